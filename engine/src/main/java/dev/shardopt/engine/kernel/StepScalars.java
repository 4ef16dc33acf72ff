package dev.shardopt.engine.kernel;

/**
 * Per-update, per-tensor scalars, computed by the engine and read by every {@link UpdateKernel}.
 *
 * @param step k = t + 1, the 1-based index of this update (bias corrections, adagrad's lr decay,
 *     the momentum rules' first step)
 * @param lr lr_t, already multiplied by the tensor's lrScale
 * @param clipValue element clamp bound, {@link Float#POSITIVE_INFINITY} when clipping by value is off
 * @param gradScale clip-by-norm coefficient {@code min(1, c / (total + 1e-6))}, 1 when off
 * @param coupledDecay coupled weight decay ({@code g += wd * theta}), 0 when none
 * @param decoupledDecay decoupled weight decay wd (adamw, lion): {@code theta *= (float) (1 - lr * wd)}
 *     before the rule, 0 when none
 */
public record StepScalars(
    long step,
    double lr,
    float clipValue,
    float gradScale,
    float coupledDecay,
    double decoupledDecay) {

  public StepScalars {
    if (step < 1) {
      throw new IllegalArgumentException("step is 1-based, got " + step);
    }
    if (!Double.isFinite(lr)) {
      throw new IllegalArgumentException("lr must be finite, got " + lr);
    }
    if (!(clipValue > 0f)) { // also rejects NaN
      throw new IllegalArgumentException("clipValue must be > 0 (+inf when off), got " + clipValue);
    }
    if (!(gradScale >= 0f && gradScale < Float.POSITIVE_INFINITY)) {
      throw new IllegalArgumentException("gradScale must be finite and >= 0, got " + gradScale);
    }
    if (!Float.isFinite(coupledDecay)) {
      throw new IllegalArgumentException("coupledDecay must be finite, got " + coupledDecay);
    }
    if (!Double.isFinite(decoupledDecay)) {
      throw new IllegalArgumentException("decoupledDecay must be finite, got " + decoupledDecay);
    }
  }

  /** The plain case: no clipping, no weight decay. */
  public static StepScalars of(long step, double lr) {
    return new StepScalars(step, lr, Float.POSITIVE_INFINITY, 1f, 0f, 0d);
  }

  /** This with another coupled weight decay. */
  public StepScalars withCoupledDecay(float wd) {
    return new StepScalars(step, lr, clipValue, gradScale, wd, decoupledDecay);
  }

  /** This with another decoupled weight decay. */
  public StepScalars withDecoupledDecay(double wd) {
    return new StepScalars(step, lr, clipValue, gradScale, coupledDecay, wd);
  }

  /** This with another clamp bound. */
  public StepScalars withClipValue(float c) {
    return new StepScalars(step, lr, c, gradScale, coupledDecay, decoupledDecay);
  }

  /** This with another clip-norm coefficient. */
  public StepScalars withGradScale(float scale) {
    return new StepScalars(step, lr, clipValue, scale, coupledDecay, decoupledDecay);
  }

  /** The decoupled decay factor {@code (float) (1 - lr * decoupledDecay)}. */
  public float decoupledFactor() {
    return (float) (1d - lr * decoupledDecay);
  }
}
