package dev.shardopt.dsl;

/** An Adam or AdamW pipeline, open for its rule's hyperparameters. */
public final class AdamPipeline extends Pipeline {
  AdamPipeline(Builder b) {
    super(b);
  }

  private Rule with(double beta1, double beta2, double eps, boolean amsgrad) {
    return rule instanceof Rule.AdamW
        ? new Rule.AdamW(rule.lr(), beta1, beta2, eps, amsgrad)
        : new Rule.Adam(rule.lr(), beta1, beta2, eps, amsgrad);
  }

  private double beta1Value() {
    return rule instanceof Rule.AdamW w ? w.beta1() : ((Rule.Adam) rule).beta1();
  }

  private double beta2Value() {
    return rule instanceof Rule.AdamW w ? w.beta2() : ((Rule.Adam) rule).beta2();
  }

  private double epsValue() {
    return rule instanceof Rule.AdamW w ? w.eps() : ((Rule.Adam) rule).eps();
  }

  private boolean amsgradValue() {
    return rule instanceof Rule.AdamW w ? w.amsgrad() : ((Rule.Adam) rule).amsgrad();
  }

  /** First-moment decay in [0, 1), default 0.9. */
  public AdamPipeline beta1(double beta1) {
    return new AdamPipeline(ruleChange("beta1", beta1Value(), with(beta1, beta2Value(), epsValue(), amsgradValue())));
  }

  /** Second-moment decay in [0, 1), default 0.999. */
  public AdamPipeline beta2(double beta2) {
    return new AdamPipeline(ruleChange("beta2", beta2Value(), with(beta1Value(), beta2, epsValue(), amsgradValue())));
  }

  /** eps > 0, added to the bias-corrected root, default 1e-8. */
  public AdamPipeline eps(double eps) {
    return new AdamPipeline(ruleChange("eps", epsValue(), with(beta1Value(), beta2Value(), eps, amsgradValue())));
  }

  /** Use the running maximum of the second moment. */
  public AdamPipeline amsgrad() {
    return new AdamPipeline(flagChange("amsgrad", with(beta1Value(), beta2Value(), epsValue(), true)));
  }

  @Override
  Pipeline ruleModifier(String name, Double value) {
    return switch (name) {
      case "beta1" -> beta1(value);
      case "beta2" -> beta2(value);
      case "eps" -> eps(value);
      case "amsgrad" -> amsgrad();
      default -> super.ruleModifier(name, value);
    };
  }
}
