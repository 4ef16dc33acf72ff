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
 * Because block boundaries depend on nothing but n, the result is bitwise the same for any thread
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
    Objects.checkFromToIndex(from, to, g.length);
    if (!(clipValue > 0f)) {
      throw new IllegalArgumentException("clipValue must be > 0 (+inf for none), got " + clipValue);
    }
    return clipValue == Float.POSITIVE_INFINITY
        ? sumOfSquares(g, from, to)
        : clampedSumOfSquares(g, from, to, clipValue);
  }

  private static double sumOfSquares(float[] g, int from, int to) {
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
    return tree(lane);
  }

  /** The fixed pairwise tree over the lanes: {@code lane[j] += lane[j + w]}, w = LANES/2 … 1. */
  private static double tree(double[] lane) {
    for (int w = LANES / 2; w >= 1; w >>= 1) {
      for (int j = 0; j < w; j++) {
        lane[j] += lane[j + w];
      }
    }
    return lane[0];
  }

  /**
   * The clamped sum, bit for bit {@code d = min(max(g[i], -c), c); sum += d * d}, without that
   * form's cost: the order of additions makes this loop scalar, and scalar Math.min/max on floats
   * compile to long blend sequences (4.5-5 ns an element measured, against about 2 ns here; a
   * compare-and-branch mispredicts on real gradients).
   *
   * <p>Since only the square is needed, {@code clamp(x, -c, c)^2 == min(|x|, c)^2}; and |x| and c are
   * non-negative floats, whose raw bits order as ints. So the clamped magnitude is selected by an
   * int mask that is all ones when {@code bits(|x|) > bits(c)} unless |x| is NaN (bits above those of
   * infinity), which is kept, as min/max keep NaN. Infinity clamps to c, as with min/max.
   */
  private static double clampedSumOfSquares(float[] g, int from, int to, float clipValue) {
    final int cb = Float.floatToRawIntBits(clipValue);
    double[] lane = new double[LANES];
    int i = from;
    for (; i + LANES <= to; i += LANES) {
      for (int j = 0; j < LANES; j++) {
        double d = clampedMagnitude(g[i + j], cb);
        lane[j] += d * d;
      }
    }
    for (int j = 0; i + j < to; j++) {
      double d = clampedMagnitude(g[i + j], cb);
      lane[j] += d * d;
    }
    return tree(lane);
  }

  /** {@code min(|x|, c)} with NaN kept, from the raw bits of c ({@code cb}); see above. */
  private static float clampedMagnitude(float x, int cb) {
    final int inf = 0x7f800000;
    int ax = Float.floatToRawIntBits(x) & 0x7fffffff;
    // Neither difference overflows: cb is in (0, inf] and ax in [0, 0x7fffffff].
    int clamp = ((cb - ax) & ~(inf - ax)) >> 31;
    return Float.intBitsToFloat((ax & ~clamp) | (cb & clamp));
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
    int n = g.length;
    Objects.checkFromToIndex(fromBlock, toBlock, blockCount(n));
    Objects.checkFromToIndex(fromBlock, toBlock, out.length);
    for (int b = fromBlock; b < toBlock; b++) {
      out[b] = sumOfSquares(g, blockStart(b), blockEnd(b, n), clipValue);
    }
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
    Objects.checkFromToIndex(from, to, g.length);
    for (int i = from; i < to; i++) {
      if (!(Math.abs(g[i]) <= Float.MAX_VALUE)) {
        return i;
      }
    }
    return -1;
  }
}
