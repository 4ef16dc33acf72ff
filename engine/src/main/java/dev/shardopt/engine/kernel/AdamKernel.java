package dev.shardopt.engine.kernel;

import java.util.List;

/**
 * Adam (PyTorch's eps placement, not ND4J's epsilon-hat form), optionally AMSGrad, optionally with
 * decoupled weight decay (AdamW). Slots {@code "exp_avg"}, {@code "exp_avg_sq"}, plus {@code
 * "max_exp_avg_sq"} if amsgrad.
 *
 * <pre>
 *   p     = p * (1 - lr * decoupledDecay)                 (decoupled: AdamW)
 *   m     = b1 * m + (1 - b1) * g
 *   v     = b2 * v + (1 - b2) * g * g
 *   vmax  = max(vmax, v);  use vmax for v                 (amsgrad)
 *   denom = sqrt(v) / sqrt(1 - b2^k) + eps
 *   p     = p - (lr / (1 - b1^k)) * m / denom
 * </pre>
 *
 * The decoupled factor scales p after the coupled decay term has read it.
 *
 * <p>Per element it reads p, g, m, v and writes p, m, v (28 bytes); amsgrad adds vmax (36 bytes).
 */
public final class AdamKernel implements UpdateKernel {
  private final double beta1;
  private final double beta2;
  private final double eps;
  private final boolean amsgrad;
  private final boolean decoupled;
  private final float b1;
  private final float b2;
  private final float oneMinusB1;
  private final float oneMinusB2;
  private final float epsF;

  /**
   * @param beta1 in [0, 1)
   * @param beta2 in [0, 1)
   * @param eps finite and >= 0
   * @param amsgrad keep and use the running maximum of v
   * @param decoupled apply {@link StepScalars#decoupledDecay()} (AdamW); when false a nonzero
   *     decoupled decay is rejected
   */
  public AdamKernel(double beta1, double beta2, double eps, boolean amsgrad, boolean decoupled) {
    this.beta1 = Kernels.beta("beta1", beta1);
    this.beta2 = Kernels.beta("beta2", beta2);
    this.eps = Kernels.nonNegative("eps", eps);
    this.amsgrad = amsgrad;
    this.decoupled = decoupled;
    this.b1 = (float) beta1;
    this.b2 = (float) beta2;
    this.oneMinusB1 = (float) (1d - beta1);
    this.oneMinusB2 = (float) (1d - beta2);
    this.epsF = (float) eps;
  }

  public double beta1() {
    return beta1;
  }

  public double beta2() {
    return beta2;
  }

  public double eps() {
    return eps;
  }

  public boolean amsgrad() {
    return amsgrad;
  }

  public boolean decoupled() {
    return decoupled;
  }

  @Override
  public List<String> stateSlots() {
    return amsgrad
        ? List.of("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
        : List.of("exp_avg", "exp_avg_sq");
  }

  @Override
  public void apply(float[] param, float[] grad, float[][] state, int from, int to, StepScalars s) {
    Kernels.check(this, param, grad, state, from, to, s, decoupled);
    final double k = (double) s.step();
    final double bias1 = 1d - Math.pow(beta1, k);
    final double bias2 = 1d - Math.pow(beta2, k);
    final float stepSize = (float) (s.lr() / bias1);
    final float bc2 = (float) Math.sqrt(bias2);
    // 1 when not decoupled: p * 1 == p exactly, so Adam and AdamW share their loops.
    final float decay = decoupled ? s.decoupledFactor() : 1f;
    final float wd = s.coupledDecay();
    final boolean noClip = Kernels.noClip(s);
    if (amsgrad) {
      if (noClip) {
        amsgradNoClip(
            param, grad, state[0], state[1], state[2], from, to, wd, decay, stepSize, bc2);
      } else if (s.clipValue() == Float.POSITIVE_INFINITY) {
        // Clip-norm scaling only: the clamp is an identity, and without it the fused body still
        // fits C2's unroll limit.
        amsgradScaled(param, grad, state[0], state[1], state[2], from, to,
            s.gradScale(), wd, decay, stepSize, bc2);
      } else {
        amsgradClipped(param, grad, state[0], state[1], state[2], from, to,
            s.clipValue(), s.gradScale(), wd, decay, stepSize, bc2);
      }
    } else if (noClip) {
      adamNoClip(param, grad, state[0], state[1], from, to, wd, decay, stepSize, bc2);
    } else {
      adamClipped(param, grad, state[0], state[1], from, to,
          s.clipValue(), s.gradScale(), wd, decay, stepSize, bc2);
    }
  }

  private void adamNoClip(
      float[] param, float[] grad, float[] ma, float[] va, int from, int to,
      float wd, float decay, float stepSize, float bc2) {
    final float b1 = this.b1;
    final float b2 = this.b2;
    final float omb1 = oneMinusB1;
    final float omb2 = oneMinusB2;
    final float eps = epsF;
    for (int i = from; i < to; i++) {
      float p = param[i];
      float g = grad[i] + wd * p;
      float m = b1 * ma[i] + omb1 * g;
      float v = b2 * va[i] + omb2 * g * g;
      ma[i] = m;
      va[i] = v;
      float denom = (float) Math.sqrt(v) / bc2 + eps;
      param[i] = p * decay - stepSize * m / denom;
    }
  }

  private void adamClipped(
      float[] param, float[] grad, float[] ma, float[] va, int from, int to,
      float clip, float scale, float wd, float decay, float stepSize, float bc2) {
    final float nclip = -clip;
    final float b1 = this.b1;
    final float b2 = this.b2;
    final float omb1 = oneMinusB1;
    final float omb2 = oneMinusB2;
    final float eps = epsF;
    for (int i = from; i < to; i++) {
      float p = param[i];
      float g = Math.min(Math.max(grad[i], nclip), clip) * scale + wd * p;
      float m = b1 * ma[i] + omb1 * g;
      float v = b2 * va[i] + omb2 * g * g;
      ma[i] = m;
      va[i] = v;
      float denom = (float) Math.sqrt(v) / bc2 + eps;
      param[i] = p * decay - stepSize * m / denom;
    }
  }

  private void amsgradNoClip(
      float[] param, float[] grad, float[] ma, float[] va, float[] vmaxa, int from, int to,
      float wd, float decay, float stepSize, float bc2) {
    final float b1 = this.b1;
    final float b2 = this.b2;
    final float omb1 = oneMinusB1;
    final float omb2 = oneMinusB2;
    final float eps = epsF;
    for (int i = from; i < to; i++) {
      float p = param[i];
      float g = grad[i] + wd * p;
      float m = b1 * ma[i] + omb1 * g;
      float v = b2 * va[i] + omb2 * g * g;
      float vmax = Math.max(vmaxa[i], v);
      ma[i] = m;
      va[i] = v;
      vmaxa[i] = vmax;
      float denom = (float) Math.sqrt(vmax) / bc2 + eps;
      param[i] = p * decay - stepSize * m / denom;
    }
  }

  private void amsgradScaled(
      float[] param, float[] grad, float[] ma, float[] va, float[] vmaxa, int from, int to,
      float scale, float wd, float decay, float stepSize, float bc2) {
    final float b1 = this.b1;
    final float b2 = this.b2;
    final float omb1 = oneMinusB1;
    final float omb2 = oneMinusB2;
    final float eps = epsF;
    for (int i = from; i < to; i++) {
      float p = param[i];
      float g = grad[i] * scale + wd * p;
      float m = b1 * ma[i] + omb1 * g;
      float v = b2 * va[i] + omb2 * g * g;
      float vmax = Math.max(vmaxa[i], v);
      ma[i] = m;
      va[i] = v;
      vmaxa[i] = vmax;
      float denom = (float) Math.sqrt(vmax) / bc2 + eps;
      param[i] = p * decay - stepSize * m / denom;
    }
  }

  /**
   * With the full prologue the fused five-array body is over C2's unroll limit (see {@link
   * Kernels#STRIP}), so each strip runs two loops: the moments, then the parameter from the moments
   * just written (still in cache). Per element the arithmetic is the fused one.
   */
  private void amsgradClipped(
      float[] param, float[] grad, float[] ma, float[] va, float[] vmaxa, int from, int to,
      float clip, float scale, float wd, float decay, float stepSize, float bc2) {
    final float nclip = -clip;
    final float b1 = this.b1;
    final float b2 = this.b2;
    final float omb1 = oneMinusB1;
    final float omb2 = oneMinusB2;
    final float eps = epsF;
    for (int start = from; start < to; ) {
      final int end = Kernels.stripEnd(start, to);
      for (int i = start; i < end; i++) {
        float p = param[i];
        float g = Math.min(Math.max(grad[i], nclip), clip) * scale + wd * p;
        float m = b1 * ma[i] + omb1 * g;
        float v = b2 * va[i] + omb2 * g * g;
        ma[i] = m;
        va[i] = v;
        vmaxa[i] = Math.max(vmaxa[i], v);
      }
      for (int i = start; i < end; i++) {
        float denom = (float) Math.sqrt(vmaxa[i]) / bc2 + eps;
        param[i] = param[i] * decay - stepSize * ma[i] / denom;
      }
      start = end;
    }
  }

  @Override
  public String toString() {
    return (decoupled ? "AdamKernel[W]" : "AdamKernel") + "(beta1=" + beta1 + ", beta2=" + beta2
        + ", eps=" + eps + ", amsgrad=" + amsgrad + ")";
  }
}
