package dev.shardopt.engine.kernel;

import java.util.List;

/**
 * SGD with (heavy-ball) momentum, PyTorch's {@code SGD(momentum=beta, dampening=dampening)}. Slot
 * {@code "momentum_buffer"}.
 *
 * <pre>
 *   b = g                                  if k == 1
 *   b = beta * b + (1 - dampening) * g     otherwise
 *   p = p - lr * b
 * </pre>
 *
 * <p>Per element it reads p, g, b and writes p, b (20 bytes).
 */
public final class MomentumKernel implements UpdateKernel {
  private final double beta;
  private final double dampening;
  private final float b;
  private final float oneMinusDampening;

  /**
   * @param beta momentum coefficient, finite and >= 0
   * @param dampening in [0, 1]
   */
  public MomentumKernel(double beta, double dampening) {
    this.beta = Kernels.nonNegative("beta", beta);
    this.dampening = Kernels.in("dampening", dampening, 0d, 1d);
    this.b = (float) beta;
    this.oneMinusDampening = (float) (1d - dampening);
  }

  public double beta() {
    return beta;
  }

  public double dampening() {
    return dampening;
  }

  @Override
  public List<String> stateSlots() {
    return List.of("momentum_buffer");
  }

  @Override
  public void apply(float[] param, float[] grad, float[][] state, int from, int to, StepScalars s) {
    Kernels.check(this, param, grad, state, from, to, s, false);
    final float[] buf = state[0];
    final float wd = s.coupledDecay();
    final float lr = (float) s.lr();
    final boolean first = s.step() == 1;
    if (Kernels.noClip(s)) {
      if (first) {
        firstNoClip(param, grad, buf, from, to, wd, lr);
      } else {
        steadyNoClip(param, grad, buf, from, to, wd, lr);
      }
    } else if (first) {
      firstClipped(param, grad, buf, from, to, s.clipValue(), s.gradScale(), wd, lr);
    } else {
      steadyClipped(param, grad, buf, from, to, s.clipValue(), s.gradScale(), wd, lr);
    }
  }

  private void firstNoClip(
      float[] param, float[] grad, float[] buf, int from, int to, float wd, float lr) {
    for (int i = from; i < to; i++) {
      float p = param[i];
      float g = grad[i] + wd * p;
      buf[i] = g;
      param[i] = p - lr * g;
    }
  }

  private void steadyNoClip(
      float[] param, float[] grad, float[] buf, int from, int to, float wd, float lr) {
    final float beta = this.b;
    final float omd = this.oneMinusDampening;
    for (int i = from; i < to; i++) {
      float p = param[i];
      float g = grad[i] + wd * p;
      float m = beta * buf[i] + omd * g;
      buf[i] = m;
      param[i] = p - lr * m;
    }
  }

  private void firstClipped(
      float[] param, float[] grad, float[] buf, int from, int to, float clip, float scale, float wd,
      float lr) {
    final float nclip = -clip;
    for (int i = from; i < to; i++) {
      float p = param[i];
      float g = Math.min(Math.max(grad[i], nclip), clip) * scale + wd * p;
      buf[i] = g;
      param[i] = p - lr * g;
    }
  }

  private void steadyClipped(
      float[] param, float[] grad, float[] buf, int from, int to, float clip, float scale, float wd,
      float lr) {
    final float nclip = -clip;
    final float beta = this.b;
    final float omd = this.oneMinusDampening;
    for (int i = from; i < to; i++) {
      float p = param[i];
      float g = Math.min(Math.max(grad[i], nclip), clip) * scale + wd * p;
      float m = beta * buf[i] + omd * g;
      buf[i] = m;
      param[i] = p - lr * m;
    }
  }

  @Override
  public String toString() {
    return "MomentumKernel(beta=" + beta + ", dampening=" + dampening + ")";
  }
}
