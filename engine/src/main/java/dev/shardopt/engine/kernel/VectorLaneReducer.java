package dev.shardopt.engine.kernel;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The lane order on the {@code jdk.incubator.vector} API: loaded only when that module is in the
 * boot layer ({@code --add-modules jdk.incubator.vector}), see {@link LaneReducers}.
 *
 * <p>With V doubles to the machine's preferred vector (8 with AVX-512, 4 with AVX2, 2 with NEON),
 * eight vector accumulators hold 8V of the {@link ReductionBlocks#LANES} lanes: accumulator k,
 * element e is lane {@code q + k * V + e} of the group starting at lane q. Each iteration loads V
 * floats per accumulator from {@code i + q + k * V}, widens them to double exactly, squares and adds:
 * the same additions, in the same order per lane, as {@link ScalarLaneReducer}. A group covers 8V
 * lanes, so 64 / (8V) passes over the range cover them all (1 with AVX-512); the lanes are then
 * stored, the tail (fewer than LANES elements) is added per lane, and the tree is the shared one.
 * Measured on JDK 17 / AVX-512: about 2.7 ms per 16M elements against 7.2 ms for the plain loop.
 */
final class VectorLaneReducer implements LaneReducer {

  private static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;
  private static final int V = D.length();
  /** V floats: the lanes that widen to one double vector. */
  private static final VectorSpecies<Float> F =
      VectorSpecies.of(float.class, VectorShape.forBitSize(Math.max(64, V * 32)));
  /** Floats per vector for the non-finite scan, which needs no widening. */
  private static final VectorSpecies<Float> WIDE = FloatVector.SPECIES_PREFERRED;
  private static final int LANES = ReductionBlocks.LANES;
  private static final int GROUP = 8 * V;

  /** Whether this machine's vectors fit the lane layout: 2, 4 or 8 doubles. */
  static boolean supported() {
    return (V == 2 || V == 4 || V == 8) && F.length() == V && LANES % GROUP == 0;
  }

  @Override
  public String name() {
    return "vector (" + V + " doubles)";
  }

  @Override
  public double sumOfSquares(float[] g, int from, int to) {
    double[] lane = new double[LANES];
    int full = from + (to - from) / LANES * LANES;
    for (int q = 0; q < LANES; q += GROUP) {
      DoubleVector a0 = DoubleVector.zero(D);
      DoubleVector a1 = a0;
      DoubleVector a2 = a0;
      DoubleVector a3 = a0;
      DoubleVector a4 = a0;
      DoubleVector a5 = a0;
      DoubleVector a6 = a0;
      DoubleVector a7 = a0;
      for (int i = from + q; i < full; i += LANES) {
        DoubleVector d = widen(g, i);
        a0 = a0.add(d.mul(d));
        d = widen(g, i + V);
        a1 = a1.add(d.mul(d));
        d = widen(g, i + 2 * V);
        a2 = a2.add(d.mul(d));
        d = widen(g, i + 3 * V);
        a3 = a3.add(d.mul(d));
        d = widen(g, i + 4 * V);
        a4 = a4.add(d.mul(d));
        d = widen(g, i + 5 * V);
        a5 = a5.add(d.mul(d));
        d = widen(g, i + 6 * V);
        a6 = a6.add(d.mul(d));
        d = widen(g, i + 7 * V);
        a7 = a7.add(d.mul(d));
      }
      store(lane, q, a0, a1, a2, a3, a4, a5, a6, a7);
    }
    for (int j = 0; full + j < to; j++) {
      double d = g[full + j];
      lane[j] += d * d;
    }
    return ReductionBlocks.tree(lane);
  }

  @Override
  public double clampedSumOfSquares(float[] g, int from, int to, int clipBits) {
    float c = Float.intBitsToFloat(clipBits);
    double[] lane = new double[LANES];
    int full = from + (to - from) / LANES * LANES;
    for (int q = 0; q < LANES; q += GROUP / 2) {
      clampedHalfGroup(g, from + q, full, c, lane, q);
    }
    for (int j = 0; full + j < to; j++) {
      double d = ScalarLaneReducer.clampedMagnitude(g[full + j], clipBits);
      lane[j] += d * d;
    }
    return ReductionBlocks.tree(lane);
  }

  /**
   * Lanes {@code [q, q + 4V)} of the clamped sum, over {@code i = start, start + LANES, … < full}.
   * Four accumulators a call, not eight: with eight, the clamp's extra inlining pushed the method
   * past C2's node budget (NodeCountInliningCutoff), and the accumulators left out were boxed on
   * every iteration (5-10x slower, measured). The lanes and their order are unchanged.
   */
  private static void clampedHalfGroup(float[] g, int start, int full, float clip, double[] lane, int q) {
    FloatVector c = FloatVector.broadcast(F, clip);
    DoubleVector a0 = DoubleVector.zero(D);
    DoubleVector a1 = a0;
    DoubleVector a2 = a0;
    DoubleVector a3 = a0;
    for (int i = start; i < full; i += LANES) {
      DoubleVector d = clamped(g, i, c);
      a0 = a0.add(d.mul(d));
      d = clamped(g, i + V, c);
      a1 = a1.add(d.mul(d));
      d = clamped(g, i + 2 * V, c);
      a2 = a2.add(d.mul(d));
      d = clamped(g, i + 3 * V, c);
      a3 = a3.add(d.mul(d));
    }
    a0.intoArray(lane, q);
    a1.intoArray(lane, q + V);
    a2.intoArray(lane, q + 2 * V);
    a3.intoArray(lane, q + 3 * V);
  }

  /**
   * The lane-wise {@code max(|x|)} with Math.max's rule (a NaN wins) is NaN or infinite exactly when
   * some x is; a max has no order to keep.
   */
  @Override
  public boolean anyNonFinite(float[] g, int from, int to) {
    int w = WIDE.length();
    int full = from + (to - from) / (2 * w) * (2 * w);
    FloatVector m0 = FloatVector.zero(WIDE);
    FloatVector m1 = m0;
    for (int i = from; i < full; i += 2 * w) {
      m0 = m0.max(FloatVector.fromArray(WIDE, g, i).abs());
      m1 = m1.max(FloatVector.fromArray(WIDE, g, i + w).abs());
    }
    float max = m0.max(m1).reduceLanes(VectorOperators.MAX);
    for (int i = full; i < to; i++) {
      max = Math.max(max, Math.abs(g[i]));
    }
    return !(max <= Float.MAX_VALUE);
  }

  private static DoubleVector widen(float[] g, int i) {
    return (DoubleVector) FloatVector.fromArray(F, g, i).convertShape(VectorOperators.F2D, D, 0);
  }

  /**
   * {@code min(|x|, c)} widened, with Math.min's rule: NaN kept, an infinity clamped to c, as
   * {@link ScalarLaneReducer#clampedMagnitude} (up to a NaN's payload, which no result exposes: a
   * NaN sum only says that the block holds one). In float, not on the raw bits as the plain loop
   * does: JDK 17 compiles the int-reinterpreting form 5-7x slower (measured), and the float min
   * as fast as the unclamped sum.
   */
  private static DoubleVector clamped(float[] g, int i, FloatVector c) {
    return (DoubleVector) FloatVector.fromArray(F, g, i).abs().min(c)
        .convertShape(VectorOperators.F2D, D, 0);
  }

  private static void store(double[] lane, int q, DoubleVector a0, DoubleVector a1, DoubleVector a2,
      DoubleVector a3, DoubleVector a4, DoubleVector a5, DoubleVector a6, DoubleVector a7) {
    a0.intoArray(lane, q);
    a1.intoArray(lane, q + V);
    a2.intoArray(lane, q + 2 * V);
    a3.intoArray(lane, q + 3 * V);
    a4.intoArray(lane, q + 4 * V);
    a5.intoArray(lane, q + 5 * V);
    a6.intoArray(lane, q + 6 * V);
    a7.intoArray(lane, q + 7 * V);
  }
}
