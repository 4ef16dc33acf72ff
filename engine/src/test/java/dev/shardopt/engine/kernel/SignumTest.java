package dev.shardopt.engine.kernel;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Lion's vectorizable sign must be Math.signum bit for bit. */
class SignumTest {

  private static void same(float c) {
    assertThat(Float.floatToRawIntBits(Kernels.signum(c)))
        .as("signum(%s) [bits %08x]", c, Float.floatToRawIntBits(c))
        .isEqualTo(Float.floatToRawIntBits(Math.signum(c)));
  }

  @Test
  void specialValues() {
    float[] values = {0f, -0f, Float.MIN_VALUE, -Float.MIN_VALUE, Float.MIN_NORMAL, -Float.MIN_NORMAL,
        Math.nextDown(Float.MIN_NORMAL), 1e-30f, -1e-30f, 0.5f, 1f, -1f, 2f, Float.MAX_VALUE,
        -Float.MAX_VALUE, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY};
    for (float c : values) {
      same(c);
    }
    assertThat(Kernels.signum(Float.NaN)).isNaN();
  }

  @Test
  void everyExponent() {
    // Two mantissas for each of the 256 exponents and both signs: subnormals, normals, inf, NaN.
    for (int e = 0; e < 256; e++) {
      for (int mant : new int[] {0, 1, 0x7fffff}) {
        for (int sign : new int[] {0, 1}) {
          float c = Float.intBitsToFloat((sign << 31) | (e << 23) | mant);
          if (Float.isNaN(c)) {
            assertThat(Kernels.signum(c)).isNaN();
          } else {
            same(c);
          }
        }
      }
    }
  }

  @Test
  void randomBitPatterns() {
    SplittableRandom r = new SplittableRandom(11);
    for (int k = 0; k < 1_000_000; k++) {
      float c = Float.intBitsToFloat(r.nextInt());
      if (Float.isNaN(c)) {
        assertThat(Kernels.signum(c)).isNaN();
      } else {
        same(c);
      }
    }
  }
}
