package dev.shardopt.device.opencl;

import static dev.shardopt.device.opencl.BitAssertions.assertSameBits;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.shardopt.engine.device.DeviceArray;
import dev.shardopt.engine.device.GradientReduction;
import dev.shardopt.engine.kernel.ReductionBlocks;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The block reduction against {@link ReductionBlocks}, the definition of the order: every block's
 * sum of squares bitwise, with and without the clamp, and the first non-finite index.
 */
class ReductionConformanceTest {
  private static OpenClBackend opencl;

  @BeforeAll
  static void open() {
    opencl = OpenClDevices.open();
  }

  @AfterAll
  static void close() {
    if (opencl != null) {
      opencl.close();
    }
  }

  private static GradientReduction reduce(float[] g, float clip) {
    DeviceArray a = opencl.allocate(g.length);
    opencl.upload(g, 0, a, 0, g.length);
    GradientReduction r = opencl.reduce(a, clip);
    opencl.release(a);
    return r;
  }

  @ParameterizedTest(name = "n={0}")
  @ValueSource(ints = {0, 1, 63, 64, 65, 8191, 8192, 8193, 3 * 8192 + 777, 1 << 20})
  void blockSumsEqualReductionBlocks(int n) {
    for (float clip : new float[] {Float.POSITIVE_INFINITY, 1f, 1e-3f, Float.MIN_VALUE}) {
      float[] g = TestData.mixed(n, n + 17);
      GradientReduction r = reduce(g, clip);
      assertEquals(-1, r.firstNonFinite(), "n=" + n);
      assertSameBits(ReductionBlocks.blockPartials(g, clip), r.blockSums(), "n=" + n + " clip=" + clip);
    }
  }

  @Test
  void blockSumsOfOrdinaryGradientsWithInfiniteSquares() {
    // Magnitudes near FLT_MAX square to about 1e77 in double: exact terms, no overflow.
    float[] g = TestData.plain(3 * 8192 + 777, 3, 3e38);
    assertSameBits(ReductionBlocks.blockPartials(g, Float.POSITIVE_INFINITY),
        reduce(g, Float.POSITIVE_INFINITY).blockSums(), "huge");
    assertSameBits(ReductionBlocks.blockPartials(g, 2e38f), reduce(g, 2e38f).blockSums(), "huge clamped");
  }

  @Test
  void firstNonFiniteIsTheLowestIndexOverBlocksAndLanes() {
    int n = 3 * 8192 + 777;
    int[][] placements = {
      {0}, {n - 1}, {8191}, {8192}, {2 * 8192 + 5},
      // several in one array: in later lanes and earlier passes, and across blocks
      {70, 5}, {8192 + 1, 8192 + 64 * 100, 3 * 8192 + 1}, {127, 64, 200, 9000}, {n - 2, 8192 * 2}
    };
    float[] bad = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY};
    int t = 0;
    for (int[] at : placements) {
      float[] g = TestData.mixed(n, t);
      for (int i : at) {
        g[i] = bad[t++ % bad.length];
      }
      int expected = ReductionBlocks.firstNonFinite(g, 0, n);
      for (float clip : new float[] {Float.POSITIVE_INFINITY, 0.5f}) {
        GradientReduction r = reduce(g, clip);
        assertEquals(expected, r.firstNonFinite(), java.util.Arrays.toString(at));
        assertEquals(0, r.blockSums().length, "no sums when a value is not finite");
      }
    }
    float[] one = {Float.NEGATIVE_INFINITY};
    assertEquals(0, reduce(one, Float.POSITIVE_INFINITY).firstNonFinite());
    float[] nanPayload = new float[100];
    nanPayload[99] = Float.intBitsToFloat(0xff800001); // a negative signalling NaN
    assertEquals(99, reduce(nanPayload, 1f).firstNonFinite());
  }

  @Test
  void rejectsAClipThatIsNotPositive() {
    DeviceArray a = opencl.allocate(10);
    assertThrows(IllegalArgumentException.class, () -> opencl.reduce(a, 0f));
    assertThrows(IllegalArgumentException.class, () -> opencl.reduce(a, Float.NaN));
    opencl.release(a);
  }
}
