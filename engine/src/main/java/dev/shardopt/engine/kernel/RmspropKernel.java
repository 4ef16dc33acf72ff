package dev.shardopt.engine.kernel;

import java.util.ArrayList;
import java.util.List;

/**
 * RMSprop, PyTorch's {@code RMSprop(alpha=rho, eps, momentum, centered)}, plus TensorFlow's eps
 * placement ({@code epsInsideSqrt}). Slots: {@code "square_avg"}, then {@code "grad_avg"} if
 * centered, then {@code "momentum_buffer"} if {@code momentum > 0}.
 *
 * <pre>
 *   v   = rho * v + (1 - rho) * g * g
 *   a   = rho * a + (1 - rho) * g          (centered)
 *   d   = v - a * a  (centered)   or   v
 *   den = sqrt(d) + eps   or   sqrt(d + eps)  (epsInsideSqrt)
 *   buf = momentum * buf + g / den;  p = p - lr * buf     (momentum > 0)
 *   p   = p - lr * g / den                                 (otherwise)
 * </pre>
 *
 * <p>Per element it reads p, g and each slot, and writes p and each slot: 20 bytes plain, 28 bytes
 * centered or with momentum, 36 bytes with both.
 */
public final class RmspropKernel implements UpdateKernel {
  private final double rho;
  private final double eps;
  private final double momentum;
  private final boolean centered;
  private final boolean epsInsideSqrt;
  private final List<String> slots;
  private final float rhoF;
  private final float oneMinusRho;
  private final float momentumF;
  /** eps added inside the square root: eps or 0. */
  private final float epsIn;
  /** eps added outside the square root: eps or 0. */
  private final float epsOut;

  /**
   * @param rho smoothing constant (PyTorch's alpha), in [0, 1)
   * @param eps finite and >= 0
   * @param momentum finite and >= 0; 0 declares no momentum buffer
   * @param centered whether to subtract the square of the mean gradient
   * @param epsInsideSqrt {@code sqrt(d + eps)} instead of {@code sqrt(d) + eps}
   */
  public RmspropKernel(
      double rho, double eps, double momentum, boolean centered, boolean epsInsideSqrt) {
    this.rho = Kernels.beta("rho", rho);
    this.eps = Kernels.nonNegative("eps", eps);
    this.momentum = Kernels.nonNegative("momentum", momentum);
    this.centered = centered;
    this.epsInsideSqrt = epsInsideSqrt;
    List<String> names = new ArrayList<>(3);
    names.add("square_avg");
    if (centered) {
      names.add("grad_avg");
    }
    if (momentum > 0d) {
      names.add("momentum_buffer");
    }
    this.slots = List.copyOf(names);
    this.rhoF = (float) rho;
    this.oneMinusRho = (float) (1d - rho);
    this.momentumF = (float) momentum;
    // sqrt(d + 0) + eps == sqrt(d) + eps and sqrt(d + eps) + 0 == sqrt(d + eps) exactly, so one
    // branch-free loop body serves both placements.
    this.epsIn = epsInsideSqrt ? (float) eps : 0f;
    this.epsOut = epsInsideSqrt ? 0f : (float) eps;
  }

  public double rho() {
    return rho;
  }

  public double eps() {
    return eps;
  }

  public double momentum() {
    return momentum;
  }

  public boolean centered() {
    return centered;
  }

  public boolean epsInsideSqrt() {
    return epsInsideSqrt;
  }

  @Override
  public List<String> stateSlots() {
    return slots;
  }

  @Override
  public void apply(float[] param, float[] grad, float[][] state, int from, int to, StepScalars s) {
    Kernels.check(this, param, grad, state, from, to, s, false);
    final float wd = s.coupledDecay();
    final float lr = (float) s.lr();
    final boolean momentum = this.momentum > 0d;
    if (Kernels.noClip(s)) {
      if (centered && momentum) {
        centeredMomentumNoClip(param, grad, state[0], state[1], state[2], from, to, wd, lr);
      } else if (centered) {
        centeredNoClip(param, grad, state[0], state[1], from, to, wd, lr);
      } else if (momentum) {
        momentumNoClip(param, grad, state[0], state[1], from, to, wd, lr);
      } else {
        plainNoClip(param, grad, state[0], from, to, wd, lr);
      }
      return;
    }
    final float clip = s.clipValue();
    final float scale = s.gradScale();
    if (centered && momentum) {
      centeredMomentumClipped(
          param, grad, state[0], state[1], state[2], from, to, clip, scale, wd, lr);
    } else if (centered) {
      centeredClipped(param, grad, state[0], state[1], from, to, clip, scale, wd, lr);
    } else if (momentum) {
      momentumClipped(param, grad, state[0], state[1], from, to, clip, scale, wd, lr);
    } else {
      plainClipped(param, grad, state[0], from, to, clip, scale, wd, lr);
    }
  }

  private void plainNoClip(
      float[] param, float[] grad, float[] sq, int from, int to, float wd, float lr) {
    final float rho = rhoF;
    final float omr = oneMinusRho;
    final float ein = epsIn;
    final float eout = epsOut;
    for (int i = from; i < to; i++) {
      float p = param[i];
      float g = grad[i] + wd * p;
      float v = rho * sq[i] + omr * g * g;
      sq[i] = v;
      float den = (float) Math.sqrt(v + ein) + eout;
      param[i] = p - lr * g / den;
    }
  }

  private void momentumNoClip(
      float[] param, float[] grad, float[] sq, float[] buf, int from, int to, float wd, float lr) {
    final float rho = rhoF;
    final float omr = oneMinusRho;
    final float ein = epsIn;
    final float eout = epsOut;
    final float mom = momentumF;
    for (int i = from; i < to; i++) {
      float p = param[i];
      float g = grad[i] + wd * p;
      float v = rho * sq[i] + omr * g * g;
      sq[i] = v;
      float den = (float) Math.sqrt(v + ein) + eout;
      float b = mom * buf[i] + g / den;
      buf[i] = b;
      param[i] = p - lr * b;
    }
  }

  private void centeredNoClip(
      float[] param, float[] grad, float[] sq, float[] avg, int from, int to, float wd, float lr) {
    final float rho = rhoF;
    final float omr = oneMinusRho;
    final float ein = epsIn;
    final float eout = epsOut;
    for (int i = from; i < to; i++) {
      float p = param[i];
      float g = grad[i] + wd * p;
      float v = rho * sq[i] + omr * g * g;
      sq[i] = v;
      float a = rho * avg[i] + omr * g;
      avg[i] = a;
      float den = (float) Math.sqrt(v - a * a + ein) + eout;
      param[i] = p - lr * g / den;
    }
  }

  private void centeredMomentumNoClip(
      float[] param, float[] grad, float[] sq, float[] avg, float[] buf, int from, int to, float wd,
      float lr) {
    final float rho = rhoF;
    final float omr = oneMinusRho;
    final float ein = epsIn;
    final float eout = epsOut;
    final float mom = momentumF;
    for (int i = from; i < to; i++) {
      float p = param[i];
      float g = grad[i] + wd * p;
      float v = rho * sq[i] + omr * g * g;
      sq[i] = v;
      float a = rho * avg[i] + omr * g;
      avg[i] = a;
      float den = (float) Math.sqrt(v - a * a + ein) + eout;
      float b = mom * buf[i] + g / den;
      buf[i] = b;
      param[i] = p - lr * b;
    }
  }

  private void plainClipped(
      float[] param, float[] grad, float[] sq, int from, int to, float clip, float scale, float wd,
      float lr) {
    final float nclip = -clip;
    final float rho = rhoF;
    final float omr = oneMinusRho;
    final float ein = epsIn;
    final float eout = epsOut;
    for (int i = from; i < to; i++) {
      float p = param[i];
      float g = Math.min(Math.max(grad[i], nclip), clip) * scale + wd * p;
      float v = rho * sq[i] + omr * g * g;
      sq[i] = v;
      float den = (float) Math.sqrt(v + ein) + eout;
      param[i] = p - lr * g / den;
    }
  }

  private void momentumClipped(
      float[] param, float[] grad, float[] sq, float[] buf, int from, int to, float clip,
      float scale, float wd, float lr) {
    final float nclip = -clip;
    final float rho = rhoF;
    final float omr = oneMinusRho;
    final float ein = epsIn;
    final float eout = epsOut;
    final float mom = momentumF;
    for (int i = from; i < to; i++) {
      float p = param[i];
      float g = Math.min(Math.max(grad[i], nclip), clip) * scale + wd * p;
      float v = rho * sq[i] + omr * g * g;
      sq[i] = v;
      float den = (float) Math.sqrt(v + ein) + eout;
      float b = mom * buf[i] + g / den;
      buf[i] = b;
      param[i] = p - lr * b;
    }
  }

  private void centeredClipped(
      float[] param, float[] grad, float[] sq, float[] avg, int from, int to, float clip,
      float scale, float wd, float lr) {
    final float nclip = -clip;
    final float rho = rhoF;
    final float omr = oneMinusRho;
    final float ein = epsIn;
    final float eout = epsOut;
    for (int i = from; i < to; i++) {
      float p = param[i];
      float g = Math.min(Math.max(grad[i], nclip), clip) * scale + wd * p;
      float v = rho * sq[i] + omr * g * g;
      sq[i] = v;
      float a = rho * avg[i] + omr * g;
      avg[i] = a;
      float den = (float) Math.sqrt(v - a * a + ein) + eout;
      param[i] = p - lr * g / den;
    }
  }

  /**
   * With the full prologue the fused five-array body is over C2's unroll limit (see {@link
   * Kernels#STRIP}), so each strip runs two loops: the averages, then the momentum buffer and the
   * parameter from the averages just written (still in cache; the clipped gradient is recomputed,
   * bitwise the same). Per element the arithmetic is the fused one.
   */
  private void centeredMomentumClipped(
      float[] param, float[] grad, float[] sq, float[] avg, float[] buf, int from, int to,
      float clip, float scale, float wd, float lr) {
    final float nclip = -clip;
    final float rho = rhoF;
    final float omr = oneMinusRho;
    final float ein = epsIn;
    final float eout = epsOut;
    final float mom = momentumF;
    for (int start = from; start < to; ) {
      final int end = Kernels.stripEnd(start, to);
      for (int i = start; i < end; i++) {
        float p = param[i];
        float g = Math.min(Math.max(grad[i], nclip), clip) * scale + wd * p;
        sq[i] = rho * sq[i] + omr * g * g;
        avg[i] = rho * avg[i] + omr * g;
      }
      for (int i = start; i < end; i++) {
        float p = param[i];
        float g = Math.min(Math.max(grad[i], nclip), clip) * scale + wd * p;
        float a = avg[i];
        float den = (float) Math.sqrt(sq[i] - a * a + ein) + eout;
        float b = mom * buf[i] + g / den;
        buf[i] = b;
        param[i] = p - lr * b;
      }
      start = end;
    }
  }

  @Override
  public String toString() {
    return "RmspropKernel(rho=" + rho + ", eps=" + eps + ", momentum=" + momentum
        + ", centered=" + centered + ", epsInsideSqrt=" + epsInsideSqrt + ")";
  }
}
