package dev.shardopt.bench;

import dev.shardopt.device.opencl.OpenClBackend;
import dev.shardopt.engine.device.CpuBackend;
import dev.shardopt.engine.device.DeviceArray;
import dev.shardopt.engine.device.DeviceBackend;
import dev.shardopt.engine.kernel.AdamKernel;
import dev.shardopt.engine.kernel.ParallelApply;
import dev.shardopt.engine.kernel.StepScalars;
import dev.shardopt.engine.kernel.UpdateKernel;
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
 * Adam over 16M parameters through a {@link DeviceBackend}, one full update per operation, waiting
 * for the device to finish: the {@code opencl} backend (device 0; PoCL in CI) against the {@code cpu}
 * backend (the Java kernel through ParallelApply on every core), and, as each backend's bandwidth
 * baseline, a device-to-device copy of the same bytes (Adam moves 28 B a parameter: reads p, g, m,
 * v, writes p, m, v; the copy reads and writes 14 B a parameter).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms3g", "-Xmx3g"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class DeviceKernelBench {

  @Param({"cpu", "opencl"})
  public String backend;

  @Param({"adam", "copy"})
  public String op;

  @Param({"16777216"})
  public int n;

  private ExecutorService pool;
  private DeviceBackend device;
  private final UpdateKernel adam = new AdamKernel(0.9, 0.999, 1e-8, false, false);
  private final StepScalars scalars = StepScalars.of(10, 1e-3);
  private DeviceArray param;
  private DeviceArray grad;
  private DeviceArray[] state;
  private DeviceArray copyFrom;
  private DeviceArray copyTo;

  @Setup(Level.Trial)
  public void setUp() {
    int threads = Runtime.getRuntime().availableProcessors();
    pool = Executors.newFixedThreadPool(Math.max(1, threads - 1), task -> {
      Thread t = new Thread(task, "kernel-helper");
      t.setDaemon(true);
      return t;
    });
    device = backend.equals("cpu") ? new CpuBackend(new ParallelApply(pool, threads)) : OpenClBackend.open(0);
    if (op.equals("adam")) {
      SplittableRandom random = new SplittableRandom(42);
      float[] p = new float[n];
      float[] g = new float[n];
      for (int i = 0; i < n; i++) {
        p[i] = (float) (random.nextGaussian() * 0.02);
        g[i] = (float) random.nextGaussian();
      }
      param = device.allocate(n);
      grad = device.allocate(n);
      state = new DeviceArray[] {device.allocate(n), device.allocate(n)};
      device.upload(p, 0, param, 0, n);
      device.upload(g, 0, grad, 0, n);
      device.apply(adam, param, grad, state, StepScalars.of(1, 1e-3));
    } else {
      int floats = n / 2 * 7; // 14 B a parameter
      copyFrom = device.allocate(floats);
      copyTo = device.allocate(floats);
      device.fill(copyFrom, 1f);
    }
    finish();
  }

  private void finish() {
    if (device instanceof OpenClBackend o) {
      o.finish();
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() throws InterruptedException {
    device.close();
    pool.shutdownNow();
    pool.awaitTermination(10, TimeUnit.SECONDS);
  }

  @Benchmark
  public void run() {
    if (op.equals("adam")) {
      device.apply(adam, param, grad, state, scalars);
    } else {
      device.copy(copyFrom, copyTo);
    }
    finish();
  }
}
