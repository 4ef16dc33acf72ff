package dev.shardopt.dsl;

/** An AdaGrad pipeline, open for its rule's hyperparameters. */
public final class AdagradPipeline extends Pipeline {
  AdagradPipeline(Builder b) {
    super(b);
  }

  private Rule.Adagrad r() {
    return (Rule.Adagrad) rule;
  }

  /** eps > 0, added outside the root, default 1e-10. */
  public AdagradPipeline eps(double eps) {
    Rule.Adagrad r = r();
    return new AdagradPipeline(
        ruleChange("eps", r.eps(), new Rule.Adagrad(r.lr(), eps, r.initialAccumulator(), r.lrDecay())));
  }

  /** Initial value of the squared-gradient sum G, default 0. */
  public AdagradPipeline initialAccumulator(double value) {
    Rule.Adagrad r = r();
    return new AdagradPipeline(
        ruleChange(
            "initialAccumulator", r.initialAccumulator(), new Rule.Adagrad(r.lr(), r.eps(), value, r.lrDecay())));
  }

  /** {@code clr = lr_t/(1 + (k-1) lrDecay)}, default 0. */
  public AdagradPipeline lrDecay(double lrDecay) {
    Rule.Adagrad r = r();
    return new AdagradPipeline(
        ruleChange("lrDecay", r.lrDecay(), new Rule.Adagrad(r.lr(), r.eps(), r.initialAccumulator(), lrDecay)));
  }

  @Override
  Pipeline ruleModifier(String name, Double value) {
    return switch (name) {
      case "eps" -> eps(value);
      case "initialAccumulator" -> initialAccumulator(value);
      case "lrDecay" -> lrDecay(value);
      default -> super.ruleModifier(name, value);
    };
  }
}
