package dev.shardopt.device.cuda;

import dev.shardopt.engine.device.CpuBackend;
import dev.shardopt.engine.device.DeviceArray;
import dev.shardopt.engine.device.DeviceBackend;
import dev.shardopt.engine.device.GradientReduction;
import dev.shardopt.engine.device.KernelLaunches;
import dev.shardopt.engine.device.KernelSource;
import dev.shardopt.engine.kernel.AdamKernel;
import dev.shardopt.engine.kernel.ParallelApply;
import dev.shardopt.engine.kernel.StepScalars;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The speed figures of issue 10 for one device backend, each against a baseline measured in the
 * same run (a benchmark command, not a test):
 *
 * <ol>
 *   <li><b>Adam kernel vs device copy.</b> Adam moves 28 bytes an element (reads p, g, m, v; writes
 *       p, m, v); a device-to-device copy of one array moves 8 (read + write). The ratio is Adam's
 *       effective bandwidth over the copy's; the goal on a GPU is >= 0.8.
 *   <li><b>Adam vs the Java CPU kernel</b> ({@link CpuBackend} with every core), for information.
 *   <li><b>A full worker step</b>: upload K gradients, trainer mean, reduction, Adam, download of the
 *       parameters, timed from the host; against its bound: the host-device copies at the machine's
 *       pinned DMA bandwidth (measured here, cuda only) plus the device time of the kernels.
 *   <li>On cuda, {@link AdamVariants} and other block sizes, each bit-checked against the production
 *       kernel (measurement for a kernel-source decision; {@code --no-variants} skips them).
 * </ol>
 *
 * On cuda every device time comes from CUDA events; on other backends from the wall clock after a
 * one-element download (which waits for the queue). Each figure is the median of {@code --iters}
 * repetitions after {@code --warmup}.
 *
 * <pre>java -cp … dev.shardopt.device.cuda.DeviceBenchmark [--device cuda] [--sizes 16777216,100000000]
 *     [--iters 20] [--warmup 3] [--trainers 2]</pre>
 */
public final class DeviceBenchmark {
  private final DeviceBackend device;
  private final CpuBackend cpu;
  private final int iters;
  private final int warmup;
  private final float[] one = new float[1];
  private final boolean variants;

  DeviceBenchmark(DeviceBackend device, CpuBackend cpu, int iters, int warmup, boolean variants) {
    this.device = device;
    this.cpu = cpu;
    this.iters = iters;
    this.warmup = warmup;
    this.variants = variants;
  }

  public static void main(String[] argv) {
    String kind = "cuda";
    long[] sizes = {16L << 20, 100_000_000L};
    int iters = 20;
    int warmup = 3;
    int trainers = 2;
    boolean variants = true;
    for (int i = 0; i < argv.length; i++) {
      switch (argv[i]) {
        case "--device" -> kind = argv[++i];
        case "--sizes" -> sizes = Arrays.stream(argv[++i].split(",")).mapToLong(Long::parseLong).toArray();
        case "--iters" -> iters = Integer.parseInt(argv[++i]);
        case "--warmup" -> warmup = Integer.parseInt(argv[++i]);
        case "--trainers" -> trainers = Integer.parseInt(argv[++i]);
        case "--no-variants" -> variants = false;
        default -> {
          System.err.println("usage: DeviceBenchmark [--device cuda|opencl|cpu] [--sizes N,N] [--iters N]"
              + " [--warmup N] [--trainers K] [--no-variants]");
          System.exit(64);
        }
      }
    }
    int cores = Runtime.getRuntime().availableProcessors();
    ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, cores - 1));
    int status = 0;
    try (DeviceBackend device = DeviceProbe.open(kind, 0, pool)) {
      System.out.println("bench: " + (device instanceof CudaBackend c ? c.describe() : device.info().toString()));
      DeviceBenchmark b = new DeviceBenchmark(device, new CpuBackend(new ParallelApply(pool, cores)), iters, warmup, variants);
      for (long n : sizes) {
        if (n > Integer.MAX_VALUE - 8) {
          throw new IllegalArgumentException("size " + n + " is over an array's limit");
        }
        b.kernelVsCopy((int) n);
        b.workerStep((int) n, trainers);
      }
    } catch (RuntimeException e) {
      System.out.println("bench: FAIL " + e);
      e.printStackTrace(System.out);
      status = 1;
    } finally {
      pool.shutdownNow();
    }
    System.exit(status);
  }

  /** Adam over n elements against a device copy of one array, and against the Java CPU kernel. */
  void kernelVsCopy(int n) {
    double copyMs = kernelVsCopyMillis(n);
    if (device instanceof CudaBackend c && variants) {
      variants(c, n, copyMs);
    }
  }

  /** {@link #kernelVsCopy}'s figures; returns the copy's milliseconds. */
  private double kernelVsCopyMillis(int n) {
    AdamKernel adam = new AdamKernel(0.9, 0.999, 1e-8, false, false);
    float[] host = BackendComparison.values(new SplittableRandom(n), n, 1f);
    DeviceArray p = device.allocate(n);
    DeviceArray g = device.allocate(n);
    DeviceArray[] st = {device.allocate(n), device.allocate(n)};
    DeviceArray dst = device.allocate(n);
    double adamMs;
    double copyMs;
    try {
      device.upload(host, 0, p, 0, n);
      device.upload(host, 0, g, 0, n);
      long[] step = {1};
      adamMs = deviceMillis(() -> device.apply(adam, p, g, st, StepScalars.of(step[0]++, 1e-3)), p);
      copyMs = deviceMillis(() -> device.copy(g, dst), dst);
      double adamGbs = 28.0 * n / (adamMs * 1e6);
      double copyGbs = 8.0 * n / (copyMs * 1e6);
      System.out.println(String.format(Locale.ROOT,
          "bench: adam n=%d: %.3f ms = %.1f GB/s (28 B/element); device copy: %.3f ms = %.1f GB/s (8 B/element);"
              + " ratio %.2f of the copy's bandwidth", n, adamMs, adamGbs, copyMs, copyGbs, adamGbs / copyGbs));
    } finally {
      release(device, p, g, st[0], st[1], dst);
    }
    if (!(device instanceof CpuBackend)) {
      DeviceArray cp = cpu.allocate(n);
      DeviceArray cg = cpu.allocate(n);
      DeviceArray[] cst = {cpu.allocate(n), cpu.allocate(n)};
      try {
        cpu.upload(host, 0, cp, 0, n);
        cpu.upload(host, 0, cg, 0, n);
        long[] step = {1};
        double cpuMs = wallMillis(() -> cpu.apply(adam, cp, cg, cst, StepScalars.of(step[0]++, 1e-3)), () -> { });
        System.out.println(String.format(Locale.ROOT,
            "bench: adam n=%d on the Java cpu kernel (%d threads): %.3f ms = %.1f GB/s; device/cpu speed %.2f",
            n, cpu.parallel().parallelism(), cpuMs, 28.0 * n / (cpuMs * 1e6),
            cpuMs / adamMs));
      } finally {
        release(cpu, cp, cg, cst[0], cst[1]);
      }
    }
    return copyMs;
  }

  /**
   * The {@link AdamVariants} and the production kernel at other block sizes, each against the same
   * copy, each checked bit for bit against the production kernel's step from the same state.
   */
  void variants(CudaBackend c, int n, double copyMs) {
    AdamKernel adam = new AdamKernel(0.9, 0.999, 1e-8, false, false);
    SplittableRandom rnd = new SplittableRandom(n + 1L);
    DeviceArray[] pristine = new DeviceArray[4];
    DeviceArray[] work = new DeviceArray[4];
    float[][] want = new float[3][];
    try (CudaModule module = c.loadModule(AdamVariants.source(), AdamVariants.KERNELS)) {
      for (int j = 0; j < 4; j++) {
        pristine[j] = c.allocate(n);
        work[j] = c.allocate(n);
        float[] host = BackendComparison.values(rnd, n, j == 3 ? 0.01f : 1f);
        if (j == 3) {
          for (int i = 0; i < n; i++) {
            host[i] = Math.abs(host[i]); // a second moment is never negative
          }
        }
        c.upload(host, 0, pristine[j], 0, n);
      }
      StepScalars s = StepScalars.of(3, 1e-3).withClipValue(0.75f).withGradScale(0.9f).withCoupledDecay(0.01f);
      // p, g, m, v = work[0..3]
      Runnable reset = () -> {
        for (int j = 0; j < 4; j++) {
          c.copy(pristine[j], work[j]);
        }
      };
      reset.run();
      c.apply(adam, work[0], work[1], new DeviceArray[] {work[2], work[3]}, s);
      for (int j = 0; j < 3; j++) {
        want[j] = new float[n];
        c.download(work[j == 0 ? 0 : j + 1], 0, want[j], 0, n);
      }
      for (int block : new int[] {128, 256, 512, 1024}) {
        Runnable step = () -> c.launch(null, KernelSource.ADAM, ((long) n + block - 1) / block, block, a -> {
          a.address(c.address(work[0])).address(c.address(work[1])).address(c.address(work[2]))
              .address(c.address(work[3])).address(0L).i32(n);
          for (float f : KernelLaunches.of(adam, s).floats()) {
            a.f32(f);
          }
          a.i32(0);
        });
        report(c, "production block " + block, n, copyMs, step, reset, work, want);
      }
      for (String kernel : AdamVariants.KERNELS) {
        for (int block : new int[] {256, 512}) {
          Runnable step = () -> AdamVariants.launch(c, module, kernel, block, adam, work[0], work[1], work[2], work[3], s);
          report(c, kernel.substring("bench_adam_".length()) + " block " + block, n, copyMs, step, reset, work, want);
        }
      }
    } catch (RuntimeException e) {
      System.out.println("bench: the adam variants stopped: " + e);
    } finally {
      for (DeviceArray a : pristine) {
        if (a != null) {
          c.release(a);
        }
      }
      for (DeviceArray a : work) {
        if (a != null) {
          c.release(a);
        }
      }
    }
  }

  private void report(CudaBackend c, String label, int n, double copyMs, Runnable step, Runnable reset,
      DeviceArray[] work, float[][] want) {
    reset.run();
    step.run();
    String diff = "";
    for (int j = 0; j < 3 && diff.isEmpty(); j++) {
      float[] got = new float[n];
      c.download(work[j == 0 ? 0 : j + 1], 0, got, 0, n);
      diff = BackendComparison.firstDifference(j == 0 ? "param" : j == 1 ? "exp_avg" : "exp_avg_sq", got, want[j]);
    }
    double ms = deviceMillis(step, work[0]);
    double gbs = 28.0 * n / (ms * 1e6);
    System.out.println(String.format(Locale.ROOT,
        "bench: adam variant %s n=%d: %.3f ms = %.1f GB/s, ratio %.2f of the copy; %s", label, n, ms, gbs,
        gbs / (8.0 * n / (copyMs * 1e6)), diff.isEmpty() ? "bits equal to the production kernel" : "BITS DIFFER: " + diff));
  }

  /**
   * One worker step with K trainers' gradients, from the host and back, against its bound: the
   * copies at the pinned DMA bandwidth plus the kernels' device time.
   */
  void workerStep(int n, int k) {
    AdamKernel adam = new AdamKernel(0.9, 0.999, 1e-8, false, false);
    SplittableRandom rnd = new SplittableRandom(7);
    float[][] gHost = new float[k][];
    for (int r = 0; r < k; r++) {
      gHost[r] = BackendComparison.values(rnd, n, 1f);
    }
    float[] pHost = BackendComparison.values(rnd, n, 1f);
    DeviceArray p = device.allocate(n);
    DeviceArray mean = device.allocate(n);
    DeviceArray[] st = {device.allocate(n), device.allocate(n)};
    List<DeviceArray> g = new ArrayList<>();
    for (int r = 0; r < k; r++) {
      g.add(device.allocate(n));
    }
    try {
      device.upload(pHost, 0, p, 0, n);
      long[] step = {1};
      Runnable kernels = () -> {
        device.trainerMean(g, mean);
        GradientReduction red = device.reduce(mean, Float.POSITIVE_INFINITY);
        if (red.firstNonFinite() >= 0) {
          throw new IllegalStateException("non-finite gradient at " + red.firstNonFinite());
        }
        device.apply(adam, p, mean, st, StepScalars.of(step[0]++, 1e-3));
      };
      Runnable whole = () -> {
        for (int r = 0; r < k; r++) {
          device.upload(gHost[r], 0, g.get(r), 0, n);
        }
        kernels.run();
        device.download(p, 0, pHost, 0, n);
      };
      double stepMs = wallMillis(whole, () -> { });
      double kernelMs = deviceMillis(kernels, p);
      double upMs = wallMillis(() -> device.upload(gHost[0], 0, g.get(0), 0, n), () -> { });
      double downMs = wallMillis(() -> device.download(p, 0, pHost, 0, n), () -> { });
      long bytes = 4L * n;
      String line = String.format(Locale.ROOT,
          "bench: worker step n=%d K=%d: %.2f ms (upload %.1f GB/s and download %.1f GB/s through the"
              + " backend; kernels %.3f ms)", n, k, stepMs, bytes / (upMs * 1e6), bytes / (downMs * 1e6), kernelMs);
      if (device instanceof CudaBackend c) {
        double[] bw = PinnedCopyBandwidth.measure(c, (CudaArray) mean, 3);
        double boundMs = (k * bytes / bw[0] + bytes / bw[1]) * 1e3 + kernelMs;
        line += String.format(Locale.ROOT,
            "; bound %.2f ms (pinned DMA %.1f GB/s up, %.1f GB/s down, + kernels): step/bound %.2f",
            boundMs, bw[0] / 1e9, bw[1] / 1e9, stepMs / boundMs);
      }
      System.out.println(line);
    } finally {
      release(device, p, mean, st[0], st[1]);
      release(device, g.toArray(new DeviceArray[0]));
    }
  }

  /** Median device milliseconds of {@code work}: CUDA events on cuda, else the wall clock to a sync. */
  private double deviceMillis(Runnable work, DeviceArray syncOn) {
    if (device instanceof CudaBackend c) {
      for (int i = 0; i < warmup; i++) {
        work.run();
      }
      c.synchronize();
      double[] t = new double[iters];
      for (int i = 0; i < iters; i++) {
        t[i] = c.timeMillis(work);
      }
      return median(t);
    }
    return wallMillis(work, () -> device.download(syncOn, 0, one, 0, 1));
  }

  private double wallMillis(Runnable work, Runnable sync) {
    for (int i = 0; i < warmup; i++) {
      work.run();
    }
    sync.run();
    double[] t = new double[iters];
    for (int i = 0; i < iters; i++) {
      long t0 = System.nanoTime();
      work.run();
      sync.run();
      t[i] = (System.nanoTime() - t0) / 1e6;
    }
    return median(t);
  }

  private static double median(double[] t) {
    double[] s = t.clone();
    Arrays.sort(s);
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }

  private static void release(DeviceBackend b, DeviceArray... arrays) {
    for (DeviceArray a : arrays) {
      b.release(a);
    }
  }
}
