package dev.shardopt.engine.kernel;

import java.util.Objects;

/**
 * The fixed reduction blocks, and the system's only two reductions over a gradient: the clip norm's
 * sum of squares and the non-finite check.
 *
 * <p><b>The reduction order</b> (part of the numeric contract, implemented identically by every
 * device backend, see {@code docs/formulas.md}):
 *
 * <ol>
 *   <li>Block {@code b} of an array of length n covers {@code [b * BLOCK, min((b + 1) * BLOCK, n))}.
 *   <li>Inside a block starting at s, lane {@code j} ({@code 0 <= j < LANES}) accumulates in double,
 *       from 0, the terms of elements {@code s + j, s + j + LANES, s + j + 2 * LANES, …} in that order.
 *   <li>The lanes are combined by a fixed pairwise tree: for {@code w = LANES/2, LANES/4, …, 1},
 *       {@code lane[j] += lane[j + w]} for every {@code j < w}. The block's partial is {@code lane[0]}.
 *   <li>The per-block partials are combined sequentially in block order.
 * </ol>
 *
 * <p>The non-finite test of a range is whether any element x has {@code !(|x| <= Float.MAX_VALUE)}
 * (NaN or an infinity); its result, the lowest such index, needs no order.
 *
 * <p>The order is written once, here and in {@link ScalarLaneReducer} (plain loops, the reference);
 * {@link VectorLaneReducer} runs the same additions lane for lane on the {@code jdk.incubator.vector}
 * API where that module is loaded (it maps lane j to element {@code j mod V} of vector accumulator
 * {@code j / V}), and the device kernels ({@code shardopt_kernels.c}, OpenCL and CUDA) give lane j
 * to work-item j of a 64-work-item group. Tests hold each of them bitwise to the plain loops.
 *
 * <p>Because block boundaries depend on nothing but n, the result is bitwise the same for any thread
 * count or chunking, and for a tensor sharded across processes at block boundaries whose per-block
 * partials are combined by one party. The lanes make a block's sum vectorize on a CPU (independent
 * accumulators) and map one lane to one GPU thread of a 64-thread work-group (coalesced loads, a
 * shared-memory tree): {@value #LANES} is a multiple of the GPU warp (32) and of the widest CPU double
 * vector (8).
 *
 * <p>Why {@value #BLOCK} elements (32 KiB of fp32): it is the L1 data cache of the common x86 and
 * Arm server cores, so a block's partial is computed from data that a fused kernel pass over the
 * same block could still hit; 16M parameters make 2048 partials (16 KiB of doubles), small enough to
 * ship and combine in microseconds, while the per-block bookkeeping (one call, one double) is
 * under 0.1% of a block's work; and 32 KiB is a multiple of every cache line and SIMD width, so
 * chunks cut at block boundaries never split a vector and share at most one cache line with a
 * neighbour. Changing it changes every clip norm bitwise: it is part of the numeric contract.
 */
public final class ReductionBlocks {

  /** Elements per reduction block (a power of two). */
  public static final int BLOCK = 8192;

  /** Independent double accumulators inside a block (a power of two dividing {@link #BLOCK}). */
  public static final int LANES = 64;

  /**
   * A stateless strategy chosen once per JVM: every implementation computes the same bits, so the
   * choice is invisible except in speed.
   */
  private static final LaneReducer DEFAULT = LaneReducers.forThisJvm();

  private ReductionBlocks() {}

  /** Number of blocks of an array of length {@code n}: {@code ceil(n / BLOCK)}. */
  public static int blockCount(int n) {
    if (n < 0) {
      throw new IllegalArgumentException("negative length " + n);
    }
    return (int) (((long) n + BLOCK - 1) / BLOCK);
  }

  /** First element of block {@code b}. */
  public static int blockStart(int b) {
    return Math.multiplyExact(b, BLOCK);
  }

  /** One past the last element of block {@code b} of an array of length {@code n}. */
  public static int blockEnd(int b, int n) {
    return (int) Math.min((long) b * BLOCK + BLOCK, n);
  }

  /**
   * {@code sum(clamp(g[i], -clipValue, clipValue)^2)} over {@code [from, to)}, each term squared in
   * double (exactly) and accumulated in the lanes and tree of the class comment, lane 0 at
   * {@code from}. Meant for one block range; pass
   * {@link Float#POSITIVE_INFINITY} for no clamp. A NaN element makes the sum NaN; an infinite one
   * makes it infinite without clamp and contributes {@code clipValue^2} with it.
   *
   * @throws IllegalArgumentException if clipValue is not > 0
   */
  public static double sumOfSquares(float[] g, int from, int to, float clipValue) {
    return sumOfSquares(DEFAULT, g, from, to, clipValue);
  }

  /** {@link #sumOfSquares(float[], int, int, float)} computed by {@code reducer}. */
  public static double sumOfSquares(LaneReducer reducer, float[] g, int from, int to, float clipValue) {
    Objects.checkFromToIndex(from, to, g.length);
    checkClipValue(clipValue);
    return clipValue == Float.POSITIVE_INFINITY
        ? reducer.sumOfSquares(g, from, to)
        : reducer.clampedSumOfSquares(g, from, to, Float.floatToRawIntBits(clipValue));
  }

  private static void checkClipValue(float clipValue) {
    if (!(clipValue > 0f)) {
      throw new IllegalArgumentException("clipValue must be > 0 (+inf for none), got " + clipValue);
    }
  }

  /** The fixed pairwise tree over the lanes: {@code lane[j] += lane[j + w]}, w = LANES/2 … 1. */
  static double tree(double[] lane) {
    for (int w = LANES / 2; w >= 1; w >>= 1) {
      for (int j = 0; j < w; j++) {
        lane[j] += lane[j + w];
      }
    }
    return lane[0];
  }

  /** The implementation this JVM uses for the static methods ({@link LaneReducers#forThisJvm()}). */
  public static LaneReducer defaultReducer() {
    return DEFAULT;
  }

  /** The per-block sums of squares of the whole array, computed on the calling thread. */
  public static double[] blockPartials(float[] g, float clipValue) {
    double[] out = new double[blockCount(g.length)];
    blockPartials(g, clipValue, out, 0, out.length);
    return out;
  }

  /** Writes the sums of squares of blocks {@code [fromBlock, toBlock)} of {@code g} into {@code out}. */
  public static void blockPartials(
      float[] g, float clipValue, double[] out, int fromBlock, int toBlock) {
    blockPartials(DEFAULT, g, clipValue, out, fromBlock, toBlock);
  }

  /** {@link #blockPartials(float[], float, double[], int, int)} computed by {@code reducer}. */
  public static void blockPartials(
      LaneReducer reducer, float[] g, float clipValue, double[] out, int fromBlock, int toBlock) {
    int n = g.length;
    checkBlocks(n, out, fromBlock, toBlock);
    checkClipValue(clipValue);
    for (int b = fromBlock; b < toBlock; b++) {
      out[b] = sumOfSquares(reducer, g, blockStart(b), blockEnd(b, n), clipValue);
    }
  }

  /**
   * Both reductions of blocks {@code [fromBlock, toBlock)} in one pass over the data: writes their
   * sums of squares into {@code out} and returns the index of the first NaN or infinite element in
   * them, or -1. Once a block holds one, it stops: the later partials are then not written.
   *
   * <p>Without a clamp the non-finite test is the sum itself: every term is {@code >= 0} and a
   * finite block cannot overflow (8192 terms of at most {@code Float.MAX_VALUE^2 < 2^256}), so a
   * block's sum is finite exactly when its elements all are. With a clamp, an infinity clamps to
   * {@code clipValue}, so the block (32 KiB, still in L1) is scanned again for one. Only a block
   * found to hold one is scanned element by element, for the index.
   */
  public static int reduceBlocks(
      LaneReducer reducer, float[] g, float clipValue, double[] out, int fromBlock, int toBlock) {
    int n = g.length;
    checkBlocks(n, out, fromBlock, toBlock);
    checkClipValue(clipValue);
    boolean clamped = clipValue != Float.POSITIVE_INFINITY;
    int clipBits = Float.floatToRawIntBits(clipValue);
    for (int b = fromBlock; b < toBlock; b++) {
      int s = blockStart(b);
      int e = blockEnd(b, n);
      double sum;
      boolean bad;
      if (clamped) {
        sum = reducer.clampedSumOfSquares(g, s, e, clipBits);
        bad = reducer.anyNonFinite(g, s, e);
      } else {
        sum = reducer.sumOfSquares(g, s, e);
        bad = !Double.isFinite(sum);
      }
      if (bad) {
        return firstNonFiniteElement(g, s, e);
      }
      out[b] = sum;
    }
    return -1;
  }

  private static void checkBlocks(int n, double[] out, int fromBlock, int toBlock) {
    Objects.checkFromToIndex(fromBlock, toBlock, blockCount(n));
    Objects.checkFromToIndex(fromBlock, toBlock, out.length);
  }

  /** Adds the partials sequentially in block order (0 for none). */
  public static double combine(double[] partials) {
    double total = 0d;
    for (double p : partials) {
      total += p;
    }
    return total;
  }

  /** The index of the first NaN or infinite element of {@code [from, to)}, or -1. */
  public static int firstNonFinite(float[] g, int from, int to) {
    return firstNonFinite(DEFAULT, g, from, to);
  }

  /**
   * {@link #firstNonFinite(float[], int, int)} with {@code reducer}'s test, a block-sized piece at a
   * time; only the piece that holds one is scanned element by element.
   */
  public static int firstNonFinite(LaneReducer reducer, float[] g, int from, int to) {
    Objects.checkFromToIndex(from, to, g.length);
    for (int s = from; s < to; ) {
      int e = (int) Math.min((long) s + BLOCK, to);
      if (reducer.anyNonFinite(g, s, e)) {
        return firstNonFiniteElement(g, s, e);
      }
      s = e;
    }
    return -1;
  }

  private static int firstNonFiniteElement(float[] g, int from, int to) {
    for (int i = from; i < to; i++) {
      if (!(Math.abs(g[i]) <= Float.MAX_VALUE)) {
        return i;
      }
    }
    return -1;
  }
}
