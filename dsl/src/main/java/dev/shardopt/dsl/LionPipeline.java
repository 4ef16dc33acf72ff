package dev.shardopt.dsl;

/** A Lion pipeline, open for its rule's hyperparameters. */
public final class LionPipeline extends Pipeline {
  LionPipeline(Builder b) {
    super(b);
  }

  /** Interpolation factor of the update direction in [0, 1], default 0.9. */
  public LionPipeline beta1(double beta1) {
    Rule.Lion r = (Rule.Lion) rule;
    return new LionPipeline(ruleChange("beta1", r.beta1(), new Rule.Lion(r.lr(), beta1, r.beta2())));
  }

  /** Decay of the momentum in [0, 1], default 0.99. */
  public LionPipeline beta2(double beta2) {
    Rule.Lion r = (Rule.Lion) rule;
    return new LionPipeline(ruleChange("beta2", r.beta2(), new Rule.Lion(r.lr(), r.beta1(), beta2)));
  }

  @Override
  Pipeline ruleModifier(String name, Double value) {
    return switch (name) {
      case "beta1" -> beta1(value);
      case "beta2" -> beta2(value);
      default -> super.ruleModifier(name, value);
    };
  }
}
