package dev.shardopt.device.opencl;

import static dev.shardopt.device.opencl.BitAssertions.assertSameBits;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.shardopt.engine.device.CpuBackend;
import dev.shardopt.engine.device.DeviceArray;
import dev.shardopt.engine.device.DeviceBackend;
import dev.shardopt.engine.kernel.ParallelApply;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The trainer mean, the accumulation window, fill, copy and partial copies to and from the host:
 * bitwise equal to the cpu backend.
 */
class ElementwiseConformanceTest {
  private static ExecutorService executor;
  private static CpuBackend cpu;
  private static OpenClBackend opencl;

  @BeforeAll
  static void open() {
    opencl = OpenClDevices.open();
    executor = Executors.newFixedThreadPool(1);
    cpu = new CpuBackend(new ParallelApply(executor, 2));
  }

  @AfterAll
  static void close() {
    if (opencl != null) {
      opencl.close();
    }
    if (executor != null) {
      executor.shutdownNow();
    }
  }

  private static DeviceArray put(DeviceBackend b, float[] v) {
    DeviceArray a = b.allocate(v.length);
    b.upload(v, 0, a, 0, v.length);
    return a;
  }

  private static float[] get(DeviceBackend b, DeviceArray a) {
    float[] v = new float[a.length()];
    b.download(a, 0, v, 0, v.length);
    return v;
  }

  @ParameterizedTest(name = "n={0}")
  @ValueSource(ints = {0, 1, 257, 3 * 8192 + 777})
  void trainerMeanOfOneTwoThreeAndFiveTrainers(int n) {
    for (int k : new int[] {1, 2, 3, 5}) {
      List<float[]> grads = new ArrayList<>();
      for (int r = 0; r < k; r++) {
        grads.add(r == 1 ? TestData.withNonFinite(n, 100 + r) : TestData.mixed(n, 100 + r));
      }
      float[] expected = mean(cpu, grads, n);
      float[] actual = mean(opencl, grads, n);
      // NaN + x keeps the NaN operand's bits on both, so raw bits hold here too.
      assertSameBits(expected, actual, "trainer mean K=" + k + " n=" + n);
    }
  }

  private static float[] mean(DeviceBackend b, List<float[]> grads, int n) {
    List<DeviceArray> in = new ArrayList<>();
    for (float[] g : grads) {
      in.add(put(b, g));
    }
    DeviceArray out = b.allocate(n);
    b.trainerMean(in, out);
    float[] v = get(b, out);
    in.forEach(b::release);
    b.release(out);
    return v;
  }

  @Test
  void trainerMeanWithTheOutputAsFirstInputIsTheMean() {
    int n = 1000;
    float[][] g = {TestData.mixed(n, 1), TestData.mixed(n, 2), TestData.mixed(n, 3)};
    float[] expected = mean(cpu, List.of(g), n);
    DeviceArray g0 = put(opencl, g[0]);
    DeviceArray g1 = put(opencl, g[1]);
    DeviceArray g2 = put(opencl, g[2]);
    opencl.trainerMean(List.of(g0, g1, g2), g0);
    assertSameBits(expected, get(opencl, g0), "mean into g0");
    assertThrows(IllegalArgumentException.class, () -> opencl.trainerMean(List.of(g0, g1), g1));
    DeviceArray shorter = opencl.allocate(n - 1);
    assertThrows(IllegalArgumentException.class, () -> opencl.trainerMean(List.of(g0, shorter), g2));
    List.of(g0, g1, g2, shorter).forEach(opencl::release);
  }

  @ParameterizedTest(name = "n={0}")
  @ValueSource(ints = {0, 1, 3 * 8192 + 777})
  void accumulationWindowAndWindowMean(int n) {
    float[] x1 = TestData.mixed(n, 11);
    float[] x2 = TestData.mixed(n, 12);
    float[] x3 = TestData.mixed(n, 13);
    float[][] c = window(cpu, x1, x2, x3);
    float[][] o = window(opencl, x1, x2, x3);
    assertSameBits(c[0], o[0], "addInPlace n=" + n);
    assertSameBits(c[1], o[1], "windowMean with sum n=" + n);
    assertSameBits(c[2], o[2], "windowMean without sum n=" + n);
  }

  /** {sum after two adds, (sum + x3) / 3, x3 / 1.5}. */
  private static float[][] window(DeviceBackend b, float[] x1, float[] x2, float[] x3) {
    DeviceArray sum = put(b, x1);
    DeviceArray a2 = put(b, x2);
    DeviceArray a3 = put(b, x3);
    DeviceArray out = b.allocate(x1.length);
    b.addInPlace(sum, a2);
    float[] s = get(b, sum);
    b.windowMean(sum, a3, 3f, out);
    float[] withSum = get(b, out);
    b.windowMean(null, a3, 1.5f, out);
    float[] withoutSum = get(b, out);
    List.of(sum, a2, a3, out).forEach(b::release);
    return new float[][] {s, withSum, withoutSum};
  }

  @Test
  void fillCopyAndPartialTransfers() {
    int n = 3 * 8192 + 777;
    DeviceArray a = opencl.allocate(n);
    assertSameBits(new float[n], get(opencl, a), "a fresh array is zero");
    opencl.fill(a, -0f);
    float[] negZero = new float[n];
    java.util.Arrays.fill(negZero, -0f);
    assertSameBits(negZero, get(opencl, a), "fill -0");
    float[] src = TestData.withNonFinite(n, 5);
    DeviceArray b = put(opencl, src);
    opencl.copy(b, a);
    assertSameBits(src, get(opencl, a), "copy");
    // A window of the host array into the middle of the device array, and back out shifted.
    opencl.fill(a, 7f);
    opencl.upload(src, 100, a, 8000, 9000);
    float[] expected = new float[n];
    java.util.Arrays.fill(expected, 7f);
    System.arraycopy(src, 100, expected, 8000, 9000);
    assertSameBits(expected, get(opencl, a), "partial upload");
    float[] back = new float[12000];
    opencl.download(a, 7990, back, 5, 9020);
    float[] expectedBack = new float[12000];
    System.arraycopy(expected, 7990, expectedBack, 5, 9020);
    assertSameBits(expectedBack, back, "partial download");
    assertThrows(IndexOutOfBoundsException.class, () -> opencl.upload(src, 0, a, n - 10, 11));
    assertThrows(IndexOutOfBoundsException.class, () -> opencl.download(a, 0, back, 11990, 11));
    DeviceArray c = opencl.allocate(n - 1);
    assertThrows(IllegalArgumentException.class, () -> opencl.copy(a, c));
    List.of(a, b, c).forEach(opencl::release);
  }

  @Test
  void transfersLargerThanTheStagingBuffer() {
    int n = ClQueue.STAGING_FLOATS * 2 + 12345;
    float[] src = TestData.plain(n, 9, 1e3);
    DeviceArray a = put(opencl, src);
    assertSameBits(src, get(opencl, a), "round trip of " + n + " floats");
    opencl.release(a);
  }
}
