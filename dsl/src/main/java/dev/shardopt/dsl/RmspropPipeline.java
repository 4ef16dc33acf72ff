package dev.shardopt.dsl;

/** An RMSprop pipeline, open for its rule's hyperparameters. */
public final class RmspropPipeline extends Pipeline {
  RmspropPipeline(Builder b) {
    super(b);
  }

  /** Smoothing constant in [0, 1), default 0.99 (torch's alpha). */
  public RmspropPipeline rho(double rho) {
    return new RmspropPipeline(ruleChange("rho", rho));
  }

  /** eps > 0, default 1e-8. */
  public RmspropPipeline eps(double eps) {
    return new RmspropPipeline(ruleChange("eps", eps));
  }

  /** Momentum on the normalized step in [0, 1), default 0. */
  public RmspropPipeline momentum(double momentum) {
    return new RmspropPipeline(ruleChange("momentum", momentum));
  }

  /** Normalize by the variance estimate {@code v - a^2} instead of {@code v}. */
  public RmspropPipeline centered() {
    return new RmspropPipeline(flagChange("centered"));
  }

  /** {@code den = sqrt(d + eps)} (the seed's form) instead of {@code sqrt(d) + eps}. */
  public RmspropPipeline epsInsideSqrt() {
    return new RmspropPipeline(flagChange("epsInsideSqrt"));
  }
}
