package dev.shardopt.engine.kernel;

/**
 * The lane order written as plain loops: the reference implementation, and the one used where the
 * {@code jdk.incubator.vector} module is not loaded. C2 on JDK 17 keeps these loops scalar (it does
 * not vectorize the float-to-double conversion; JDK 20 and later do), about 0.5 ns an element.
 */
public final class ScalarLaneReducer implements LaneReducer {

  private static final int LANES = ReductionBlocks.LANES;

  @Override
  public String name() {
    return "plain loop";
  }

  @Override
  public double sumOfSquares(float[] g, int from, int to) {
    double[] lane = new double[LANES];
    int i = from;
    for (; i + LANES <= to; i += LANES) {
      for (int j = 0; j < LANES; j++) {
        double d = g[i + j];
        lane[j] += d * d;
      }
    }
    for (int j = 0; i + j < to; j++) {
      double d = g[i + j];
      lane[j] += d * d;
    }
    return ReductionBlocks.tree(lane);
  }

  /**
   * The clamped sum, bit for bit {@code d = min(max(g[i], -c), c); lane += d * d}, without that
   * form's cost: scalar Math.min/max on floats compile to long blend sequences, and a
   * compare-and-branch mispredicts on real gradients.
   *
   * <p>Since only the square is needed, {@code clamp(x, -c, c)^2 == min(|x|, c)^2}; and |x| and c are
   * non-negative floats, whose raw bits order as ints. So the clamped magnitude is selected by an
   * int mask that is all ones when {@code bits(|x|) > bits(c)} unless |x| is NaN (bits above those of
   * infinity), which is kept, as min/max keep NaN. Infinity clamps to c, as with min/max.
   */
  @Override
  public double clampedSumOfSquares(float[] g, int from, int to, int clipBits) {
    double[] lane = new double[LANES];
    int i = from;
    for (; i + LANES <= to; i += LANES) {
      for (int j = 0; j < LANES; j++) {
        double d = clampedMagnitude(g[i + j], clipBits);
        lane[j] += d * d;
      }
    }
    for (int j = 0; i + j < to; j++) {
      double d = clampedMagnitude(g[i + j], clipBits);
      lane[j] += d * d;
    }
    return ReductionBlocks.tree(lane);
  }

  /** {@code min(|x|, c)} with NaN kept, from the raw bits of c ({@code cb}); see above. */
  static float clampedMagnitude(float x, int cb) {
    final int inf = 0x7f800000;
    int ax = Float.floatToRawIntBits(x) & 0x7fffffff;
    // Neither difference overflows: cb is in (0, inf] and ax in [0, 0x7fffffff].
    int clamp = ((cb - ax) & ~(inf - ax)) >> 31;
    return Float.intBitsToFloat((ax & ~clamp) | (cb & clamp));
  }

  /**
   * {@code x * 0} is NaN exactly when x is NaN or infinite (and a signed zero otherwise), and a sum
   * with a NaN term is NaN: so the range holds one when the sum of its {@code x * 0} is NaN. Eight
   * independent sums and no branch per element run about two elements a cycle where the
   * element-by-element test with its early exit ran one (the push receive checks every decoded
   * 64 KiB run from cache: 4.5 ms for 64 MiB, about 2.2 ms this way; CopyCosts row p10).
   */
  @Override
  public boolean anyNonFinite(float[] g, int from, int to) {
    float s0 = 0f;
    float s1 = 0f;
    float s2 = 0f;
    float s3 = 0f;
    float s4 = 0f;
    float s5 = 0f;
    float s6 = 0f;
    float s7 = 0f;
    int i = from;
    for (; i + 8 <= to; i += 8) {
      s0 += g[i] * 0f;
      s1 += g[i + 1] * 0f;
      s2 += g[i + 2] * 0f;
      s3 += g[i + 3] * 0f;
      s4 += g[i + 4] * 0f;
      s5 += g[i + 5] * 0f;
      s6 += g[i + 6] * 0f;
      s7 += g[i + 7] * 0f;
    }
    for (; i < to; i++) {
      s0 += g[i] * 0f;
    }
    return Float.isNaN(((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)));
  }
}
