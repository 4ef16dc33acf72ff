package dev.shardopt.dsl;

/** An AdaGrad pipeline, open for its rule's hyperparameters. */
public final class AdagradPipeline extends Pipeline {
  AdagradPipeline(Builder b) {
    super(b);
  }

  /** eps > 0, added outside the root, default 1e-10. */
  public AdagradPipeline eps(double eps) {
    return new AdagradPipeline(ruleChange("eps", eps));
  }

  /** Initial value of the squared-gradient sum G, default 0. */
  public AdagradPipeline initialAccumulator(double value) {
    return new AdagradPipeline(ruleChange("initialAccumulator", value));
  }

  /** {@code clr = lr_t/(1 + (k-1) lrDecay)}, default 0. */
  public AdagradPipeline lrDecay(double lrDecay) {
    return new AdagradPipeline(ruleChange("lrDecay", lrDecay));
  }
}
