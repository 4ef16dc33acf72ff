package dev.shardopt.engine.kernel;

import java.util.List;
import java.util.Objects;

/**
 * One optimizer rule's element-wise update, applied to a chunk {@code [from, to)} of a flat fp32
 * parameter array and its named state slots.
 *
 * <p>Every implementation runs the same per-element prologue, in float arithmetic:
 *
 * <pre>
 *   g = grad[i]
 *   g = min(max(g, -clipValue), clipValue)     // Float.POSITIVE_INFINITY when off: a no-op
 *   g = g * gradScale                          // 1 when off: a no-op
 *   g = g + coupledDecay * p                   // 0 when off: a no-op for finite p
 * </pre>
 *
 * followed by its rule, in one fused pass over the elements. All state slots are {@code float[]} of
 * the parameter array's length. Implementations are immutable and thread-safe: distinct threads may
 * apply one kernel to disjoint ranges of the same arrays at once.
 */
public interface UpdateKernel {

  /** State slot names in index order, e.g. {@code List.of("exp_avg", "exp_avg_sq")}. */
  List<String> stateSlots();

  /** Initial value of a slot's elements (0 except adagrad's {@code "sum"}). */
  default float initialValue(int slot) {
    Objects.checkIndex(slot, stateSlots().size());
    return 0f;
  }

  /**
   * Applies one update to elements {@code [from, to)}. {@code state[j]} is the slot {@code
   * stateSlots().get(j)}.
   *
   * @throws IllegalArgumentException if the arrays do not fit together or {@code s} asks for
   *     something this rule does not support (a decoupled decay on a coupled rule)
   * @throws IndexOutOfBoundsException if {@code [from, to)} is not inside the arrays
   */
  void apply(float[] param, float[] grad, float[][] state, int from, int to, StepScalars s);

  /** Allocates this kernel's state for {@code n} parameters, each slot filled with its initial value. */
  default float[][] newState(int n) {
    int slots = stateSlots().size();
    float[][] state = new float[slots][];
    for (int j = 0; j < slots; j++) {
      state[j] = new float[n];
      float v = initialValue(j);
      if (v != 0f) {
        java.util.Arrays.fill(state[j], v);
      }
    }
    return state;
  }
}
