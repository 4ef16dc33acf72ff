package dev.shardopt.dsl;

/** A Lion pipeline, open for its rule's hyperparameters. */
public final class LionPipeline extends Pipeline {
  LionPipeline(Builder b) {
    super(b);
  }

  /** Interpolation factor of the update direction in [0, 1], default 0.9. */
  public LionPipeline beta1(double beta1) {
    return new LionPipeline(ruleChange("beta1", beta1));
  }

  /** Decay of the momentum in [0, 1], default 0.99. */
  public LionPipeline beta2(double beta2) {
    return new LionPipeline(ruleChange("beta2", beta2));
  }
}
