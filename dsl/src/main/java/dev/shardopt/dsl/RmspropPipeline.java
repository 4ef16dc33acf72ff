package dev.shardopt.dsl;

/** An RMSprop pipeline, open for its rule's hyperparameters. */
public final class RmspropPipeline extends Pipeline {
  RmspropPipeline(Builder b) {
    super(b);
  }

  private Rule.Rmsprop r() {
    return (Rule.Rmsprop) rule;
  }

  /** Smoothing constant in [0, 1), default 0.99 (torch's alpha). */
  public RmspropPipeline rho(double rho) {
    Rule.Rmsprop r = r();
    return new RmspropPipeline(
        ruleChange("rho", r.rho(), new Rule.Rmsprop(r.lr(), rho, r.eps(), r.momentum(), r.centered(), r.epsInsideSqrt())));
  }

  /** eps > 0, default 1e-8. */
  public RmspropPipeline eps(double eps) {
    Rule.Rmsprop r = r();
    return new RmspropPipeline(
        ruleChange("eps", r.eps(), new Rule.Rmsprop(r.lr(), r.rho(), eps, r.momentum(), r.centered(), r.epsInsideSqrt())));
  }

  /** Momentum on the normalized step in [0, 1), default 0. */
  public RmspropPipeline momentum(double momentum) {
    Rule.Rmsprop r = r();
    return new RmspropPipeline(
        ruleChange("momentum", r.momentum(), new Rule.Rmsprop(r.lr(), r.rho(), r.eps(), momentum, r.centered(), r.epsInsideSqrt())));
  }

  /** Normalize by the variance estimate {@code v - a^2} instead of {@code v}. */
  public RmspropPipeline centered() {
    Rule.Rmsprop r = r();
    return new RmspropPipeline(
        flagChange("centered", new Rule.Rmsprop(r.lr(), r.rho(), r.eps(), r.momentum(), true, r.epsInsideSqrt())));
  }

  /** {@code den = sqrt(d + eps)} (the seed's form) instead of {@code sqrt(d) + eps}. */
  public RmspropPipeline epsInsideSqrt() {
    Rule.Rmsprop r = r();
    return new RmspropPipeline(
        flagChange("epsInsideSqrt", new Rule.Rmsprop(r.lr(), r.rho(), r.eps(), r.momentum(), r.centered(), true)));
  }

  @Override
  Pipeline ruleModifier(String name, Double value) {
    return switch (name) {
      case "rho" -> rho(value);
      case "eps" -> eps(value);
      case "momentum" -> momentum(value);
      case "centered" -> centered();
      case "epsInsideSqrt" -> epsInsideSqrt();
      default -> super.ruleModifier(name, value);
    };
  }
}
