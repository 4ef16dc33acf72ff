package dev.shardopt.dsl;

/** A Nesterov-momentum pipeline, open for its rule's hyperparameters. */
public final class NesterovPipeline extends Pipeline {
  NesterovPipeline(Builder b) {
    super(b);
  }

  /** Momentum coefficient in [0, 1), default 0.9. */
  public NesterovPipeline beta(double beta) {
    return new NesterovPipeline(ruleChange("beta", beta));
  }
}
