package dev.shardopt.dsl;

/** An Adam or AdamW pipeline, open for its rule's hyperparameters. */
public final class AdamPipeline extends Pipeline {
  AdamPipeline(Builder b) {
    super(b);
  }

  /** First-moment decay in [0, 1), default 0.9. */
  public AdamPipeline beta1(double beta1) {
    return new AdamPipeline(ruleChange("beta1", beta1));
  }

  /** Second-moment decay in [0, 1), default 0.999. */
  public AdamPipeline beta2(double beta2) {
    return new AdamPipeline(ruleChange("beta2", beta2));
  }

  /** eps > 0, added to the bias-corrected root, default 1e-8. */
  public AdamPipeline eps(double eps) {
    return new AdamPipeline(ruleChange("eps", eps));
  }

  /** Use the running maximum of the second moment. */
  public AdamPipeline amsgrad() {
    return new AdamPipeline(flagChange("amsgrad"));
  }
}
