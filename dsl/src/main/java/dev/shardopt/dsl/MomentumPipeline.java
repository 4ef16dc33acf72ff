package dev.shardopt.dsl;

/** A momentum pipeline, open for its rule's hyperparameters. */
public final class MomentumPipeline extends Pipeline {
  MomentumPipeline(Builder b) {
    super(b);
  }

  private Rule.Momentum r() {
    return (Rule.Momentum) rule;
  }

  /** Momentum coefficient in [0, 1), default 0.9. */
  public MomentumPipeline beta(double beta) {
    Rule.Momentum r = r();
    return new MomentumPipeline(ruleChange("beta", r.beta(), new Rule.Momentum(r.lr(), beta, r.dampening())));
  }

  /** Dampening in [0, 1], default 0. */
  public MomentumPipeline dampening(double dampening) {
    Rule.Momentum r = r();
    return new MomentumPipeline(
        ruleChange("dampening", r.dampening(), new Rule.Momentum(r.lr(), r.beta(), dampening)));
  }

  @Override
  Pipeline ruleModifier(String name, Double value) {
    return switch (name) {
      case "beta" -> beta(value);
      case "dampening" -> dampening(value);
      default -> super.ruleModifier(name, value);
    };
  }
}
