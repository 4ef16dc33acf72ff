package dev.shardopt.bench;

import dev.shardopt.engine.kernel.ParallelApply;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
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
 * The two per-step reductions over a 16M-element gradient through {@code ParallelApply}: the clip
 * norm's per-block sums of squares (without and with a clip value) and the non-finite check. Each
 * reads the gradient once: 4 bytes per element.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
public class ReductionBench {

  @Param({"sumsq", "sumsq_clipped", "nonfinite"})
  public String op;

  @Param({"1", "2"})
  public int threads;

  private ExecutorService pool;
  private ParallelApply parallel;
  private float[] grad;

  @Setup(Level.Trial)
  public void setUp() {
    pool = Executors.newFixedThreadPool(Math.max(1, threads - 1), task -> {
      Thread t = new Thread(task, "reduction-helper");
      t.setDaemon(true);
      return t;
    });
    parallel = new ParallelApply(pool, threads);
    SplittableRandom random = new SplittableRandom(42);
    grad = new float[KernelBench.N];
    for (int i = 0; i < grad.length; i++) {
      grad[i] = (float) random.nextGaussian();
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() throws InterruptedException {
    pool.shutdownNow();
    pool.awaitTermination(10, TimeUnit.SECONDS);
  }

  @Benchmark
  public double reduce() {
    return switch (op) {
      case "sumsq" -> parallel.sumOfSquares(grad, Float.POSITIVE_INFINITY);
      // Clamps about a third of a standard-normal gradient.
      case "sumsq_clipped" -> parallel.sumOfSquares(grad, 1f);
      case "nonfinite" -> parallel.firstNonFinite(grad);
      default -> throw new IllegalStateException(op);
    };
  }
}
