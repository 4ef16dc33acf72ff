package dev.shardopt.engine.kernel;

import java.util.List;

/**
 * Lion (Chen et al. 2023), with decoupled weight decay. Slot {@code "exp_avg"}.
 *
 * <pre>
 *   p = p * (1 - lr * decoupledDecay)
 *   c = b1 * m + (1 - b1) * g
 *   p = p - lr * sign(c)              sign(0) = 0, as Math.signum
 *   m = b2 * m + (1 - b2) * g
 * </pre>
 *
 * The decoupled factor scales p after the coupled decay term has read it.
 *
 * <p>Per element it reads p, g, m and writes p, m (20 bytes).
 */
public final class LionKernel implements UpdateKernel {
  private final double beta1;
  private final double beta2;
  private final float b1;
  private final float b2;
  private final float oneMinusB1;
  private final float oneMinusB2;

  /**
   * @param beta1 interpolation for the update direction, in [0, 1]
   * @param beta2 EMA coefficient of the momentum, in [0, 1]
   */
  public LionKernel(double beta1, double beta2) {
    this.beta1 = Kernels.in("beta1", beta1, 0d, 1d);
    this.beta2 = Kernels.in("beta2", beta2, 0d, 1d);
    this.b1 = (float) beta1;
    this.b2 = (float) beta2;
    this.oneMinusB1 = (float) (1d - beta1);
    this.oneMinusB2 = (float) (1d - beta2);
  }

  public double beta1() {
    return beta1;
  }

  public double beta2() {
    return beta2;
  }

  @Override
  public List<String> stateSlots() {
    return List.of("exp_avg");
  }

  @Override
  public void apply(float[] param, float[] grad, float[][] state, int from, int to, StepScalars s) {
    Kernels.check(this, param, grad, state, from, to, s, true);
    final float wd = s.coupledDecay();
    final float lr = (float) s.lr();
    final float decay = s.decoupledFactor();
    if (Kernels.noClip(s)) {
      noClip(param, grad, state[0], from, to, wd, lr, decay);
    } else {
      clipped(param, grad, state[0], from, to, s.clipValue(), s.gradScale(), wd, lr, decay);
    }
  }

  private void noClip(
      float[] param, float[] grad, float[] ma, int from, int to, float wd, float lr, float decay) {
    final float b1 = this.b1;
    final float b2 = this.b2;
    final float omb1 = oneMinusB1;
    final float omb2 = oneMinusB2;
    for (int i = from; i < to; i++) {
      float p = param[i];
      float g = grad[i] + wd * p;
      float m = ma[i];
      float c = b1 * m + omb1 * g;
      param[i] = p * decay - lr * Kernels.signum(c);
      ma[i] = b2 * m + omb2 * g;
    }
  }

  private void clipped(
      float[] param, float[] grad, float[] ma, int from, int to,
      float clip, float scale, float wd, float lr, float decay) {
    final float nclip = -clip;
    final float b1 = this.b1;
    final float b2 = this.b2;
    final float omb1 = oneMinusB1;
    final float omb2 = oneMinusB2;
    for (int i = from; i < to; i++) {
      float p = param[i];
      float g = Math.min(Math.max(grad[i], nclip), clip) * scale + wd * p;
      float m = ma[i];
      float c = b1 * m + omb1 * g;
      param[i] = p * decay - lr * Kernels.signum(c);
      ma[i] = b2 * m + omb2 * g;
    }
  }

  @Override
  public String toString() {
    return "LionKernel(beta1=" + beta1 + ", beta2=" + beta2 + ")";
  }
}
