package dev.shardopt.dsl;

/** A momentum pipeline, open for its rule's hyperparameters. */
public final class MomentumPipeline extends Pipeline {
  MomentumPipeline(Builder b) {
    super(b);
  }

  /** Momentum coefficient in [0, 1), default 0.9. */
  public MomentumPipeline beta(double beta) {
    return new MomentumPipeline(ruleChange("beta", beta));
  }

  /** Dampening in [0, 1], default 0. */
  public MomentumPipeline dampening(double dampening) {
    return new MomentumPipeline(ruleChange("dampening", dampening));
  }
}
