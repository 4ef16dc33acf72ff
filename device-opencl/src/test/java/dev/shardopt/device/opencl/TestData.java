package dev.shardopt.device.opencl;

import java.util.SplittableRandom;

/**
 * Random test arrays mixing ordinary values with the ones that break careless arithmetic: ±0,
 * subnormals, the smallest normal, tiny and huge magnitudes (squares that overflow to infinity),
 * and exact small integers.
 */
final class TestData {
  private TestData() {}

  static final float[] SPECIAL = {
    0f, -0f, Float.MIN_VALUE, -Float.MIN_VALUE, 1e-40f, -3e-39f, Float.MIN_NORMAL, -Float.MIN_NORMAL,
    1e-30f, -1e-20f, 1e-10f, 1e20f, -1e25f, 1e30f, -3e38f, Float.MAX_VALUE, 1f, -1f, 0.5f, -2f, 3f
  };

  /** {@code n} values: about one in four from {@link #SPECIAL}, the others normal with a random scale. */
  static float[] mixed(int n, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] a = new float[n];
    for (int i = 0; i < n; i++) {
      a[i] = r.nextInt(4) == 0
          ? SPECIAL[r.nextInt(SPECIAL.length)]
          : (float) (r.nextDouble(-1, 1) * Math.pow(10, r.nextInt(-6, 4)));
    }
    return a;
  }

  /** {@link #mixed}, with about one in sixteen values NaN, +infinity or -infinity. */
  static float[] withNonFinite(int n, long seed) {
    float[] a = mixed(n, seed);
    SplittableRandom r = new SplittableRandom(~seed);
    float[] bad = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY};
    for (int i = 0; i < n; i++) {
      if (r.nextInt(16) == 0) {
        a[i] = bad[r.nextInt(bad.length)];
      }
    }
    return a;
  }

  /** {@code n} ordinary values in (-scale, scale), no specials. */
  static float[] plain(int n, long seed, double scale) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] a = new float[n];
    for (int i = 0; i < n; i++) {
      a[i] = (float) (r.nextDouble(-1, 1) * scale);
    }
    return a;
  }
}
