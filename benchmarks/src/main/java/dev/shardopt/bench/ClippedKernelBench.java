package dev.shardopt.bench;

import dev.shardopt.engine.kernel.StepScalars;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * As {@link KernelBench} with the full prologue: clip value 1 (clamps about a third of the
 * standard-normal gradient), clip-norm coefficient 0.5 and a coupled weight decay, on 1 thread.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms3g", "-Xmx3g"})
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
public class ClippedKernelBench {

  @Param({"sgd", "momentum", "nesterov", "adagrad", "rmsprop", "rmsprop_cm",
      "adam", "adamw", "amsgrad", "lion"})
  public String rule;

  @Param({"1"})
  public int threads;

  private Fixture fixture;

  @Setup(Level.Trial)
  public void setUp() {
    Rule r = Rule.of(rule);
    StepScalars s = new StepScalars(10, 1e-3, 1f, 0.5f, r.decoupled ? 0f : 1e-4f, 0d);
    fixture = new Fixture(r, KernelBench.N, threads, s);
  }

  @TearDown(Level.Trial)
  public void tearDown() throws InterruptedException {
    fixture.close();
  }

  @Benchmark
  public void update() {
    fixture.update();
  }
}
