package dev.shardopt.engine.kernel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** ReductionBlocks.sumOfSquares against its defining order (lanes, then a pairwise tree), bit for bit. */
class ClampedSumTest {

  /**
   * The definition, written as plainly as possible: clamp with Math.min/max, square in double, lane
   * {@code (i - from) % 64} accumulates in index order, then the pairwise tree over the 64 lanes.
   */
  private static double reference(float[] g, int from, int to, float c) {
    double[] lane = new double[64];
    for (int i = from; i < to; i++) {
      double d = Math.min(Math.max(g[i], -c), c);
      lane[(i - from) % 64] += d * d;
    }
    for (int w = 32; w >= 1; w /= 2) {
      for (int j = 0; j < w; j++) {
        lane[j] = lane[j] + lane[j + w];
      }
    }
    return lane[0];
  }

  @Test
  void lanesAndTreeGiveAnotherSumThanIndexOrder() {
    // (2^27)^2 = 2^54 (ulp 4), then 64 ones. In index order every 1 is lost (2^54 + 1 rounds back).
    // In lanes, lane 0 loses its one (element 64), lanes 1..63 hold 1 each; the tree doubles them
    // level by level and adds 1 (lost), 2 (a tie, to even: lost), 4, 8, 16, 32 to lane 0: 2^54 + 60.
    float[] g = new float[65];
    g[0] = 0x1p27f;
    java.util.Arrays.fill(g, 1, 65, 1f);
    double got = ReductionBlocks.sumOfSquares(g, 0, g.length, Float.POSITIVE_INFINITY);
    assertThat(got).isEqualTo(0x1p54 + 60);
    assertThat(got).isEqualTo(reference(g, 0, g.length, Float.POSITIVE_INFINITY));
  }

  private static void same(float[] g, float c) {
    double want = reference(g, 0, g.length, c);
    double got = ReductionBlocks.sumOfSquares(g, 0, g.length, c);
    if (Double.isNaN(want)) {
      assertThat(got).as("clip %s", c).isNaN();
    } else {
      assertThat(Double.doubleToRawLongBits(got)).as("clip %s", c)
          .isEqualTo(Double.doubleToRawLongBits(want));
    }
  }

  private static final float[] CLIPS = {Float.MIN_VALUE, 1e-30f, Float.MIN_NORMAL, 0.25f, 1f, 1.5f,
      3e38f, Float.MAX_VALUE, Float.POSITIVE_INFINITY};

  @Test
  void eachSpecialValueAlone() {
    float[] values = {0f, -0f, Float.MIN_VALUE, -Float.MIN_VALUE, Float.MIN_NORMAL, 1e-30f, 0.25f,
        -0.25f, 1f, -1f, 1.5f, -1.5f, 2f, 3e38f, Float.MAX_VALUE, -Float.MAX_VALUE,
        Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN,
        Float.intBitsToFloat(0x7fc00001), Float.intBitsToFloat(0xffffffff)};
    for (float c : CLIPS) {
      for (float v : values) {
        same(new float[] {v}, c);
      }
    }
  }

  @Test
  void randomBitPatternsAndGaussians() {
    SplittableRandom r = new SplittableRandom(5);
    for (float c : CLIPS) {
      float[] bits = new float[20_000];
      float[] gauss = new float[20_000];
      for (int i = 0; i < bits.length; i++) {
        float f;
        do {
          f = Float.intBitsToFloat(r.nextInt());
        } while (Float.isNaN(f)); // one NaN would hide every other term
        bits[i] = f;
        gauss[i] = (float) (r.nextGaussian() * 2);
      }
      same(bits, c);
      same(gauss, c);
    }
  }

  @Test
  void rejectsNonPositiveClip() {
    float[] g = {1f};
    assertThatThrownBy(() -> ReductionBlocks.sumOfSquares(g, 0, 1, 0f))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> ReductionBlocks.sumOfSquares(g, 0, 1, -1f))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> ReductionBlocks.sumOfSquares(g, 0, 1, Float.NaN))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
