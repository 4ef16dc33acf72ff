package dev.shardopt.device.cuda;

import dev.shardopt.engine.device.CpuBackend;
import dev.shardopt.engine.device.DeviceArray;
import dev.shardopt.engine.device.DeviceBackend;
import dev.shardopt.engine.device.DeviceBackendProvider;
import dev.shardopt.engine.kernel.AdamKernel;
import dev.shardopt.engine.kernel.ParallelApply;
import dev.shardopt.engine.kernel.StepScalars;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.ServiceLoader;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The GPU machine's first check ({@code scripts/gpu-check.sh --probe}): opens a device backend
 * (cuda by default; any kind a provider on the class path registers), prints what it found, runs
 * {@link BackendComparison} against {@link CpuBackend} plus one Adam step and reduction over a
 * staging-chunked array, and prints PASS/FAIL per check, timings and "N passed, M failed".
 *
 * <pre>java -cp … dev.shardopt.device.cuda.DeviceProbe [--device cuda|opencl] [--index 0] [--n 25576]</pre>
 *
 * Exit status: 0 all passed, 1 a check failed, 2 the device did not open.
 */
public final class DeviceProbe {
  private DeviceProbe() {}

  public static void main(String[] argv) {
    String kind = "cuda";
    int index = 0;
    int n = 3 * 8192 + 1000;
    int big = PinnedStaging.CHUNK_FLOATS + 3;
    for (int i = 0; i < argv.length; i++) {
      switch (argv[i]) {
        case "--device" -> kind = argv[++i];
        case "--index" -> index = Integer.parseInt(argv[++i]);
        case "--n" -> n = Integer.parseInt(argv[++i]);
        case "--big" -> big = Integer.parseInt(argv[++i]);
        default -> {
          System.err.println("usage: DeviceProbe [--device cuda|opencl] [--index N] [--n N] [--big N]");
          System.exit(64);
        }
      }
    }
    System.out.println("probe: java " + System.getProperty("java.version") + " at " + System.getProperty("java.home"));
    ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, Runtime.getRuntime().availableProcessors() - 1));
    long t0 = System.nanoTime();
    DeviceBackend device;
    try {
      device = open(kind, index, pool);
    } catch (RuntimeException | LinkageError e) {
      System.out.println("probe: FAIL " + kind + " did not open: " + e.getMessage());
      System.out.println("probe: the full error follows");
      e.printStackTrace(System.out);
      System.out.println("probe: 0 passed, 1 failed");
      pool.shutdownNow();
      System.exit(2);
      return;
    }
    double openMs = (System.nanoTime() - t0) / 1e6;
    System.out.println("probe: opened in " + ms(openMs) + ": "
        + (device instanceof CudaBackend c ? c.describe() : device.info().toString()));
    System.out.println("probe: " + device.info());
    int passed = 0;
    int failed = 0;
    try (device) {
      CpuBackend cpu = new CpuBackend(new ParallelApply(pool, Runtime.getRuntime().availableProcessors()));
      BackendComparison cmp = new BackendComparison(device, cpu);
      List<BackendComparison.Check> checks = new ArrayList<>();
      long t1 = System.nanoTime();
      checks.addAll(cmp.all(n));
      double checkMs = (System.nanoTime() - t1) / 1e6;
      final int bigN = big;
      checks.addAll(BackendComparison.guarded("adam (chunked staging) n=" + big, () -> List.of(
          cmp.rule(new BackendComparison.Rule("adam (chunked staging)",
              new AdamKernel(0.9, 0.999, 1e-8, false, false), false), bigN, BackendComparison.Mode.ALL, 41))));
      checks.addAll(BackendComparison.guarded("reductions n=" + big, () -> cmp.reductions(bigN)));
      for (BackendComparison.Check c : checks) {
        System.out.println("probe: " + c);
        if (c.passed()) {
          passed++;
        } else {
          failed++;
        }
      }
      System.out.println("probe: the comparisons at n=" + n + " took " + ms(checkMs));
      if (device instanceof CudaBackend c) {
        timeAdam(c, big);
      }
    } catch (RuntimeException | LinkageError e) {
      System.out.println("probe: FAIL the checks stopped: " + e);
      e.printStackTrace(System.out);
      failed++;
    } finally {
      pool.shutdownNow();
    }
    System.out.println("probe: " + passed + " passed, " + failed + " failed");
    System.exit(failed == 0 ? 0 : 1);
  }

  /** The backend of {@code kind}: cuda directly (for its description), others through ServiceLoader. */
  static DeviceBackend open(String kind, int index, ExecutorService pool) {
    if (kind.equals("cuda")) {
      return new CudaBackendProvider().openCuda(index);
    }
    if (kind.equals("cpu")) { // the script's own test: the reference against itself
      return new CpuBackend(new ParallelApply(pool, 2));
    }
    for (DeviceBackendProvider p : ServiceLoader.load(DeviceBackendProvider.class)) {
      if (p.kind().equals(kind)) {
        return p.open(index);
      }
    }
    throw new IllegalArgumentException("no device backend '" + kind + "' on the class path");
  }

  /** One Adam step over {@code n} elements, timed by CUDA events (after a warm-up step). */
  private static void timeAdam(CudaBackend c, int n) {
    AdamKernel adam = new AdamKernel(0.9, 0.999, 1e-8, false, false);
    DeviceArray p = c.allocate(n);
    DeviceArray g = c.allocate(n);
    DeviceArray m = c.allocate(n);
    DeviceArray v = c.allocate(n);
    try {
      float[] host = BackendComparison.values(new SplittableRandom(5), n, 1f);
      c.upload(host, 0, g, 0, n);
      c.upload(host, 0, p, 0, n);
      DeviceArray[] st = {m, v};
      c.apply(adam, p, g, st, StepScalars.of(1, 1e-3));
      c.synchronize();
      float ms = c.timeMillis(() -> c.apply(adam, p, g, st, StepScalars.of(2, 1e-3)));
      float copyMs = c.timeMillis(() -> c.copy(g, m));
      System.out.println(String.format(Locale.ROOT,
          "probe: adam step n=%d: %.3f ms (%.1f GB/s at 28 B/element); device copy of %d floats: %.3f ms"
              + " (%.1f GB/s read+write)",
          n, ms, 28.0 * n / (ms * 1e6), n, copyMs, 8.0 * n / (copyMs * 1e6)));
    } finally {
      c.release(p);
      c.release(g);
      c.release(m);
      c.release(v);
    }
  }

  private static String ms(double ms) {
    return String.format(Locale.ROOT, "%.1f ms", ms);
  }
}
