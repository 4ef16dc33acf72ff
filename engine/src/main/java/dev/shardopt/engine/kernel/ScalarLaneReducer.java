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

  @Override
  public boolean anyNonFinite(float[] g, int from, int to) {
    for (int i = from; i < to; i++) {
      if (!(Math.abs(g[i]) <= Float.MAX_VALUE)) {
        return true;
      }
    }
    return false;
  }
}
