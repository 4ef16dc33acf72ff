package dev.shardopt.engine.kernel;

import java.util.List;

/**
 * Plain stochastic gradient descent. No state.
 *
 * <pre>
 *   p = p - lr * g
 * </pre>
 *
 * <p>Per element it reads p, g and writes p (12 bytes).
 */
public final class SgdKernel implements UpdateKernel {

  @Override
  public List<String> stateSlots() {
    return List.of();
  }

  @Override
  public void apply(float[] param, float[] grad, float[][] state, int from, int to, StepScalars s) {
    Kernels.check(this, param, grad, state, from, to, s, false);
    final float wd = s.coupledDecay();
    final float lr = (float) s.lr();
    if (Kernels.noClip(s)) {
      noClip(param, grad, from, to, wd, lr);
    } else {
      clipped(param, grad, from, to, s.clipValue(), s.gradScale(), wd, lr);
    }
  }

  private static void noClip(float[] param, float[] grad, int from, int to, float wd, float lr) {
    for (int i = from; i < to; i++) {
      float p = param[i];
      float g = grad[i] + wd * p;
      param[i] = p - lr * g;
    }
  }

  private static void clipped(
      float[] param, float[] grad, int from, int to, float clip, float scale, float wd, float lr) {
    final float nclip = -clip;
    for (int i = from; i < to; i++) {
      float p = param[i];
      float g = Math.min(Math.max(grad[i], nclip), clip) * scale + wd * p;
      param[i] = p - lr * g;
    }
  }

  @Override
  public String toString() {
    return "SgdKernel";
  }
}
