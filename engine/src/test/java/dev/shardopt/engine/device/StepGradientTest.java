package dev.shardopt.engine.device;

import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.engine.kernel.ParallelApply;
import dev.shardopt.engine.kernel.ReductionBlocks;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The cpu backend's fused step gradient (one pass: trainer mean, window mean, reductions) against
 * the separate calls it replaces, and against the mean written out element by element, bit for bit.
 */
class StepGradientTest {

  private static final int N = 3 * ReductionBlocks.BLOCK + 555;
  private static ExecutorService pool;

  @BeforeAll
  static void start() {
    pool = Executors.newFixedThreadPool(3);
  }

  @AfterAll
  static void stop() throws InterruptedException {
    pool.shutdownNow();
    assertThat(pool.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
  }

  private static float[] random(long seed, float scale) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] g = new float[N];
    for (int i = 0; i < N; i++) {
      g[i] = (float) (r.nextGaussian() * scale);
    }
    return g;
  }

  /** The separate calls (DeviceBackend's default stepGradient) on a fresh backend. */
  private static final class Separate {
    final CpuBackend cpu;

    Separate(CpuBackend cpu) {
      this.cpu = cpu;
    }

    GradientReduction run(List<DeviceArray> g, DeviceArray sum, int k, DeviceArray out, float clip) {
      DeviceBackend plain = new DeviceBackend() {
        // Only the calls the default stepGradient makes are needed.
        @Override public String kind() { return cpu.kind(); }
        @Override public DeviceInfo info() { return cpu.info(); }
        @Override public DeviceArray allocate(int n) { return cpu.allocate(n); }
        @Override public void release(DeviceArray a) { cpu.release(a); }
        @Override public void upload(float[] src, int srcFrom, DeviceArray dst, int dstFrom, int n) {
          cpu.upload(src, srcFrom, dst, dstFrom, n);
        }
        @Override public void download(DeviceArray src, int srcFrom, float[] dst, int dstFrom, int n) {
          cpu.download(src, srcFrom, dst, dstFrom, n);
        }
        @Override public void copy(DeviceArray src, DeviceArray dst) { cpu.copy(src, dst); }
        @Override public void fill(DeviceArray a, float value) { cpu.fill(a, value); }
        @Override public void trainerMean(List<DeviceArray> gradients, DeviceArray o) { cpu.trainerMean(gradients, o); }
        @Override public void addInPlace(DeviceArray s, DeviceArray x) { cpu.addInPlace(s, x); }
        @Override public void windowMean(DeviceArray s, DeviceArray x, float kk, DeviceArray o) { cpu.windowMean(s, x, kk, o); }
        @Override public GradientReduction reduce(DeviceArray a, float c) { return cpu.reduce(a, c); }
        @Override public void apply(dev.shardopt.engine.kernel.UpdateKernel kernel, DeviceArray param, DeviceArray grad,
            DeviceArray[] state, dev.shardopt.engine.kernel.StepScalars s) {
          cpu.apply(kernel, param, grad, state, s);
        }
        @Override public void close() {}
      };
      return plain.stepGradient(g, sum, k, out, clip);
    }
  }

  @Test
  void fusedEqualsTheSeparateCallsBitwise() {
    int cases = 0;
    for (int trainers : new int[] {1, 2, 3}) {
      for (int k : new int[] {1, 3}) {
        for (boolean withSum : new boolean[] {false, true}) {
          if (k == 1 && withSum) {
            continue;
          }
          for (float clip : new float[] {Float.POSITIVE_INFINITY, 0.75f}) {
            for (int par : new int[] {1, 2, 4}) {
              CpuBackend cpu = new CpuBackend(new ParallelApply(pool, par, 1));
              List<DeviceArray> g = new ArrayList<>();
              List<float[]> raw = new ArrayList<>();
              for (int r = 0; r < trainers; r++) {
                float[] x = random(10 + r, r == 1 ? 1e-3f : 2f);
                raw.add(x);
                g.add(CpuBackend.view(x));
              }
              float[] sumValues = withSum ? random(99, 5f) : null;
              DeviceArray sum = withSum ? CpuBackend.view(sumValues) : null;
              float[] outA = new float[N];
              float[] outB = new float[N];
              GradientReduction fused = cpu.stepGradient(g, sum, k, CpuBackend.view(outA), clip);
              GradientReduction separate = new Separate(new CpuBackend(new ParallelApply(pool, 1)))
                  .run(g, sum, k, CpuBackend.view(outB), clip);
              String what = "K=" + trainers + " k=" + k + " sum=" + withSum + " clip=" + clip + " par=" + par;
              assertThat(fused.firstNonFinite()).as(what).isEqualTo(-1);
              assertThat(separate.firstNonFinite()).as(what).isEqualTo(-1);
              assertThat(fused.blockSums()).as(what).containsExactly(separate.blockSums());
              boolean inPlace = trainers == 1 && k == 1;
              float[] step = inPlace ? raw.get(0) : outA;
              if (!inPlace) {
                assertThat(outA).as(what).containsExactly(outB);
              }
              // Independently: the mean and window written out per element, and the block sums.
              for (int i = 0; i < N; i += 997) {
                float m = raw.get(0)[i];
                for (int r = 1; r < trainers; r++) {
                  m += raw.get(r)[i];
                }
                if (trainers > 1) {
                  m /= trainers;
                }
                if (k > 1) {
                  m = withSum ? (sumValues[i] + m) / k : m / k;
                }
                assertThat(Float.floatToRawIntBits(step[i])).as(what + " element " + i)
                    .isEqualTo(Float.floatToRawIntBits(m));
              }
              assertThat(fused.blockSums()).as(what).containsExactly(ReductionBlocks.blockPartials(step, clip));
              cases++;
            }
          }
        }
      }
    }
    assertThat(cases).isEqualTo(3 * 3 * 2 * 3);
  }

  @Test
  void aNonFiniteInputOrAnOverflowingMeanIsFoundAtItsIndex() {
    CpuBackend cpu = new CpuBackend(new ParallelApply(pool, 3, 1));
    for (float clip : new float[] {Float.POSITIVE_INFINITY, 1f}) {
      float[] a = random(1, 1f);
      float[] b = random(2, 1f);
      b[2 * ReductionBlocks.BLOCK + 7] = Float.NaN;
      a[ReductionBlocks.BLOCK + 3] = Float.POSITIVE_INFINITY;
      GradientReduction r = cpu.stepGradient(
          List.of(CpuBackend.view(a), CpuBackend.view(b)), null, 1, CpuBackend.view(new float[N]), clip);
      assertThat(r.firstNonFinite()).isEqualTo(ReductionBlocks.BLOCK + 3);
      // Finite inputs whose sum overflows: the mean is infinite, and found there.
      float[] c = random(3, 1f);
      float[] d = random(4, 1f);
      c[500] = Float.MAX_VALUE;
      d[500] = Float.MAX_VALUE;
      float[] out = new float[N];
      r = cpu.stepGradient(List.of(CpuBackend.view(c), CpuBackend.view(d)), null, 1, CpuBackend.view(out), clip);
      assertThat(r.firstNonFinite()).isEqualTo(500);
      assertThat(out[500]).isEqualTo(Float.POSITIVE_INFINITY);
      // Every element is written, also after the non-finite one.
      assertThat(out[N - 1]).isEqualTo((c[N - 1] + d[N - 1]) / 2f);
    }
  }
}
