package dev.shardopt.bench;

import dev.shardopt.engine.device.CpuBackend;
import dev.shardopt.engine.device.DeviceArray;
import dev.shardopt.engine.kernel.LaneReducers;
import dev.shardopt.engine.kernel.ParallelApply;
import dev.shardopt.engine.kernel.ReductionBlocks;
import dev.shardopt.engine.kernel.ScalarLaneReducer;
import java.util.List;
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
 * 4 bytes per element. {@code step_k2}: a sync step's gradient stage with two trainers (their
 * mean and its reductions, one pass, {@code CpuBackend.stepGradient}), against the separate passes
 * ({@code step_k2_separate}); 12 bytes per element.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
// The engine's vector reductions need the incubator module (LaneReducers); the *_plain rows measure
// the plain loops in the same fork, for the same-run ratio.
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g", LaneReducers.VECTOR_MODULE_OPTION})
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
public class ReductionBench {

  @Param({"sumsq", "sumsq_clipped", "nonfinite", "reduce", "sumsq_plain", "nonfinite_plain", "step_k2",
      "step_k2_separate"})
  public String op;

  @Param({"1", "2"})
  public int threads;

  private ExecutorService pool;
  private ParallelApply parallel;
  private ParallelApply plain;
  private double[] partials;
  private CpuBackend cpu;
  private List<DeviceArray> twoTrainers;
  private DeviceArray mean;
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
    cpu = new CpuBackend(parallel);
    float[] second = new float[KernelBench.N];
    for (int i = 0; i < second.length; i++) {
      second[i] = (float) random.nextGaussian();
    }
    twoTrainers = List.of(CpuBackend.view(grad), CpuBackend.view(second));
    mean = CpuBackend.view(new float[KernelBench.N]);
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
      // A sync step's gradient stage with 2 trainers: the mean and its reductions, fused (what
      // ShardGroup.prepare runs) and as the separate passes it replaced.
      case "step_k2" -> cpu.stepGradient(twoTrainers, null, 1, mean, Float.POSITIVE_INFINITY).firstNonFinite();
      case "step_k2_separate" -> {
        cpu.trainerMean(twoTrainers, mean);
        yield cpu.reduce(mean, Float.POSITIVE_INFINITY).firstNonFinite();
      }
      default -> throw new IllegalStateException(op);
    };
  }
}
