package dev.shardopt.engine.kernel;

import java.util.List;

/**
 * Adagrad, PyTorch's {@code Adagrad(lr_decay, initial_accumulator_value, eps)}. Slot {@code "sum"},
 * initially {@code initialAccumulator}.
 *
 * <pre>
 *   clr = lr / (1 + (k - 1) * lrDecay)
 *   G   = G + g * g
 *   p   = p - clr * g / (sqrt(G) + eps)
 * </pre>
 *
 * <p>Per element it reads p, g, G and writes p, G (20 bytes).
 */
public final class AdagradKernel implements UpdateKernel {
  private final double eps;
  private final double initialAccumulator;
  private final double lrDecay;
  private final float epsF;

  /**
   * @param eps added to the denominator, finite and >= 0
   * @param initialAccumulator starting value of {@code "sum"}, finite and >= 0
   * @param lrDecay finite and >= 0
   */
  public AdagradKernel(double eps, double initialAccumulator, double lrDecay) {
    this.eps = Kernels.nonNegative("eps", eps);
    this.initialAccumulator = Kernels.nonNegative("initialAccumulator", initialAccumulator);
    this.lrDecay = Kernels.nonNegative("lrDecay", lrDecay);
    this.epsF = (float) eps;
  }

  public double eps() {
    return eps;
  }

  public double initialAccumulator() {
    return initialAccumulator;
  }

  public double lrDecay() {
    return lrDecay;
  }

  @Override
  public List<String> stateSlots() {
    return List.of("sum");
  }

  @Override
  public float initialValue(int slot) {
    java.util.Objects.checkIndex(slot, 1);
    return (float) initialAccumulator;
  }

  @Override
  public void apply(float[] param, float[] grad, float[][] state, int from, int to, StepScalars s) {
    Kernels.check(this, param, grad, state, from, to, s, false);
    final float wd = s.coupledDecay();
    final float clr = (float) (s.lr() / (1d + (s.step() - 1) * lrDecay));
    if (Kernels.noClip(s)) {
      noClip(param, grad, state[0], from, to, wd, clr);
    } else {
      clipped(param, grad, state[0], from, to, s.clipValue(), s.gradScale(), wd, clr);
    }
  }

  private void noClip(
      float[] param, float[] grad, float[] sum, int from, int to, float wd, float clr) {
    final float eps = this.epsF;
    for (int i = from; i < to; i++) {
      float p = param[i];
      float g = grad[i] + wd * p;
      float acc = sum[i] + g * g;
      sum[i] = acc;
      param[i] = p - clr * g / ((float) Math.sqrt(acc) + eps);
    }
  }

  private void clipped(
      float[] param, float[] grad, float[] sum, int from, int to,
      float clip, float scale, float wd, float clr) {
    final float nclip = -clip;
    final float eps = this.epsF;
    for (int i = from; i < to; i++) {
      float p = param[i];
      float g = Math.min(Math.max(grad[i], nclip), clip) * scale + wd * p;
      float acc = sum[i] + g * g;
      sum[i] = acc;
      param[i] = p - clr * g / ((float) Math.sqrt(acc) + eps);
    }
  }

  @Override
  public String toString() {
    return "AdagradKernel(eps=" + eps + ", initialAccumulator=" + initialAccumulator
        + ", lrDecay=" + lrDecay + ")";
  }
}
