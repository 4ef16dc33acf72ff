package dev.shardopt.bench;

import dev.shardopt.engine.kernel.ParallelApply;
import dev.shardopt.engine.kernel.ReductionBlocks;
import dev.shardopt.engine.kernel.ScalarLaneReducer;
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
 * norm's per-block sums of squares (without and with a clip value) and the non-finite check, both
 * in one pass ({@code reduce}, what a step's statistics cost), and the first two on the plain loops
 * ({@code _plain}, the implementation without the vector module). Each reads the gradient once:
 * 4 bytes per element.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
// The engine's vector reductions need the incubator module (LaneReducers); the *_plain rows measure
// the plain loops in the same fork, for the same-run ratio.
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g", "--add-modules=jdk.incubator.vector"})
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
public class ReductionBench {

  @Param({"sumsq", "sumsq_clipped", "nonfinite", "reduce", "sumsq_plain", "nonfinite_plain"})
  public String op;

  @Param({"1", "2"})
  public int threads;

  private ExecutorService pool;
  private ParallelApply parallel;
  private ParallelApply plain;
  private double[] partials;
  private float[] grad;

  @Setup(Level.Trial)
  public void setUp() {
    pool = Executors.newFixedThreadPool(Math.max(1, threads - 1), task -> {
      Thread t = new Thread(task, "reduction-helper");
      t.setDaemon(true);
      return t;
    });
    parallel = new ParallelApply(pool, threads);
    plain = new ParallelApply(pool, threads, 0, new ScalarLaneReducer());
    // Shown in JMH's output: which implementation the rows without _plain measured.
    System.out.println("reductions: " + (op.endsWith("_plain") ? plain : parallel).reducer().name());
    SplittableRandom random = new SplittableRandom(42);
    grad = new float[KernelBench.N];
    partials = new double[ReductionBlocks.blockCount(KernelBench.N)];
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
      // What a step's statistics stage costs: both reductions in one pass (CpuBackend.reduce).
      case "reduce" -> parallel.reduce(grad, Float.POSITIVE_INFINITY, partials);
      case "sumsq_plain" -> plain.sumOfSquares(grad, Float.POSITIVE_INFINITY);
      case "nonfinite_plain" -> plain.firstNonFinite(grad);
      default -> throw new IllegalStateException(op);
    };
  }
}
