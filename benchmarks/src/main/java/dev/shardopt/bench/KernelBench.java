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
 * One full update of a 16M-parameter tensor per operation, through {@code ParallelApply} on 1 or 2
 * threads (the benchmark thread plus {@code threads - 1} pool threads), without clipping (the
 * engine's common case: no clip value, clip-norm coefficient 1). The triad baseline runs through the
 * same harness.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms3g", "-Xmx3g"})
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
public class KernelBench {

  public static final int N = 16_777_216;

  @Param({"sgd", "momentum", "nesterov", "adagrad", "rmsprop", "rmsprop_cm",
      "adam", "adamw", "amsgrad", "lion", "triad"})
  public String rule;

  @Param({"1", "2"})
  public int threads;

  private Fixture fixture;

  @Setup(Level.Trial)
  public void setUp() {
    // A step past the first, so the momentum rules take their steady-state loop.
    fixture = new Fixture(Rule.of(rule), N, threads, StepScalars.of(10, 1e-3));
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
