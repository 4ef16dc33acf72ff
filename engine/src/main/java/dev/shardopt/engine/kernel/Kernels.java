package dev.shardopt.engine.kernel;

import java.util.Objects;

/**
 * Argument checks, hyperparameter validation and loop helpers shared by the kernels.
 *
 * <p>How the kernels are written, and why (all measured on JDK 17 C2, AVX-512):
 *
 * <ul>
 *   <li>Every loop is a simple counted loop over local array references with loop-invariant float
 *       scalars, which C2's SuperWord vectorizes. Branches on per-call facts (k == 1, clipping off,
 *       centered, amsgrad) are taken once per call, outside the loops.
 *   <li>Every loop variant lives in its own method. C2 does not unroll, and so does not vectorize, a
 *       loop whose profile says it never ran: a variant compiled as part of a method whose profile
 *       predates it (clipping that starts after warm-up) ran 10-15x slower, for good.
 *   <li>A loop body must stay within C2's unroll limit (about 60 ideal nodes) to be vectorized:
 *       see {@link #noClip} and {@link #STRIP} for the two five-array rules.
 *   <li>Math.signum is not vectorized on JDK 17: see {@link #signum}.
 * </ul>
 */
final class Kernels {
  private Kernels() {}

  /**
   * Whether the clamp and the clip-norm scale are exact identities for every input: {@code
   * min(max(x, -inf), inf) == x} and {@code x * 1 == x} hold for all floats, NaN and infinities
   * included. Every kernel then runs a loop without them, bitwise the same as the full prologue: the
   * two vector min/max sequences and the multiply cost about 10% of a DRAM-bound pass (measured), and
   * the three nodes they take keep the five-array loops (amsgrad, centered rmsprop with momentum)
   * under C2's unroll limit, which those loops need to be vectorized as one fused loop.
   *
   * <p>The coupled decay term stays in both loops: {@code g + 0 * p} is not an identity for a
   * non-finite p or g = -0.
   */
  static boolean noClip(StepScalars s) {
    return s.clipValue() == Float.POSITIVE_INFINITY && s.gradScale() == 1f;
  }

  /**
   * Strip length for the five-array loops with the full prologue, whose fused body is a few nodes
   * over C2's unroll limit (LoopUnrollLimit=60) and so would not be vectorized at all (measured
   * 10-15x slower in cache). They run two smaller loops over each strip; the second re-reads what the
   * first just wrote from L1/L2, so DRAM still sees one pass. 4096 elements of five arrays are 80
   * KiB, within L2, and long enough that the scalar pre- and post-loops around each vectorized main
   * loop stay a few percent; measured at 16M elements, 4096 to 8192 were best (about 20% slower than
   * the fused loop, against 10x for the scalar one).
   */
  static final int STRIP = 4096;

  /** End of the strip starting at {@code start}, without int overflow. */
  static int stripEnd(int start, int to) {
    return to - start > STRIP ? start + STRIP : to;
  }

  /**
   * {@link Math#signum(float)}, bit for bit (±1 for every nonzero, ±0 for ±0, NaN for NaN), in a form
   * C2 vectorizes on JDK 17, which vectorizes Math.min/max but not Math.signum: scaling by 2^200 in
   * two exact steps sends every nonzero finite float, subnormals included, to at least 2^51 in
   * magnitude (or to infinity), and the clamp brings it to exactly ±1.
   */
  static float signum(float c) {
    return Math.min(Math.max(c * 0x1p100f * 0x1p100f, -1f), 1f);
  }

  /**
   * Checks that the arrays fit together and {@code [from, to)} lies inside them; when {@code
   * decoupled} is false, also that {@code s} asks for no decoupled decay (which the rule would
   * otherwise silently ignore).
   */
  static void check(
      UpdateKernel kernel,
      float[] param,
      float[] grad,
      float[][] state,
      int from,
      int to,
      StepScalars s,
      boolean decoupled) {
    Objects.requireNonNull(param, "param");
    Objects.requireNonNull(grad, "grad");
    Objects.requireNonNull(state, "state");
    Objects.requireNonNull(s, "scalars");
    int n = param.length;
    if (grad.length != n) {
      throw new IllegalArgumentException(
          "grad has " + grad.length + " elements, param has " + n);
    }
    int slots = kernel.stateSlots().size();
    if (state.length != slots) {
      throw new IllegalArgumentException(
          kernel + " needs " + slots + " state slots " + kernel.stateSlots()
              + ", got " + state.length);
    }
    for (int j = 0; j < slots; j++) {
      float[] slot = Objects.requireNonNull(state[j], "state slot");
      if (slot.length != n) {
        throw new IllegalArgumentException(
            "state slot " + kernel.stateSlots().get(j) + " has " + slot.length
                + " elements, param has " + n);
      }
    }
    Objects.checkFromToIndex(from, to, n);
    if (!decoupled && s.decoupledDecay() != 0d) {
      throw new IllegalArgumentException(
          kernel + " has no decoupled weight decay; got decoupledDecay=" + s.decoupledDecay());
    }
  }

  static double finite(String name, double v) {
    if (!Double.isFinite(v)) {
      throw new IllegalArgumentException(name + " must be finite, got " + v);
    }
    return v;
  }

  static double in(String name, double v, double lo, double hi) {
    if (!(v >= lo && v <= hi)) {
      throw new IllegalArgumentException(name + " must be in [" + lo + ", " + hi + "], got " + v);
    }
    return v;
  }

  static double beta(String name, double v) {
    if (!(v >= 0d && v < 1d)) {
      throw new IllegalArgumentException(name + " must be in [0, 1), got " + v);
    }
    return v;
  }

  static double nonNegative(String name, double v) {
    if (!(v >= 0d && v < Double.POSITIVE_INFINITY)) {
      throw new IllegalArgumentException(name + " must be finite and >= 0, got " + v);
    }
    return v;
  }

  static double positive(String name, double v) {
    if (!(v > 0d && v < Double.POSITIVE_INFINITY)) {
      throw new IllegalArgumentException(name + " must be finite and > 0, got " + v);
    }
    return v;
  }
}
