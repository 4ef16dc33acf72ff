package dev.shardopt.engine.kernel;

/**
 * One implementation of the per-block reductions of {@link ReductionBlocks}, in exactly the order
 * that class defines: {@link ReductionBlocks#LANES} double lanes over strided elements, then the
 * fixed pairwise tree. Every implementation returns bitwise the same results; they differ only in
 * speed (see {@link LaneReducers#forThisJvm()}).
 */
public interface LaneReducer {

  /** A short name for reports ("vector" or "plain loop"). */
  String name();

  /** {@code sum(g[i]^2)} over {@code [from, to)} in the lane order, lane 0 at {@code from}. */
  double sumOfSquares(float[] g, int from, int to);

  /**
   * {@code sum(min(|g[i]|, c)^2)} over {@code [from, to)} in the lane order, with NaN kept and an
   * infinity clamped to c; {@code clipBits} is {@code Float.floatToRawIntBits(c)} for a c in
   * {@code (0, +inf]}.
   */
  double clampedSumOfSquares(float[] g, int from, int to, int clipBits);

  /** Whether {@code [from, to)} holds a NaN or an infinity. */
  boolean anyNonFinite(float[] g, int from, int to);
}
