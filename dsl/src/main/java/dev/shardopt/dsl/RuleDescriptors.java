package dev.shardopt.dsl;

import static dev.shardopt.dsl.Hyperparameter.flag;
import static dev.shardopt.dsl.Hyperparameter.number;
import static dev.shardopt.dsl.RuleDescriptor.WeightDecay.COUPLED;
import static dev.shardopt.dsl.RuleDescriptor.WeightDecay.DECOUPLED;
import static dev.shardopt.dsl.Validator.NON_NEGATIVE;
import static dev.shardopt.dsl.Validator.POSITIVE;
import static dev.shardopt.dsl.Validator.UNIT_CLOSED;
import static dev.shardopt.dsl.Validator.UNIT_CLOSED_OPEN;

import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * The descriptor of every rule: defaults match PyTorch; a rule's modifiers are listed in canonical
 * order, which is also the order of its record's components after lr.
 */
final class RuleDescriptors {
  private RuleDescriptors() {}

  static final RuleDescriptor<Rule.Sgd, Pipeline> SGD =
      new RuleDescriptor<>(RuleKind.SGD, Rule.Sgd.class, 1e-3, Pipeline::new, COUPLED,
          v -> new Rule.Sgd(v.lr()));

  static final RuleDescriptor<Rule.Momentum, MomentumPipeline> MOMENTUM =
      new RuleDescriptor<>(RuleKind.MOMENTUM, Rule.Momentum.class, 1e-3, MomentumPipeline::new, COUPLED,
          v -> new Rule.Momentum(v.lr(), v.number("beta"), v.number("dampening")),
          number("beta", 0.9, UNIT_CLOSED_OPEN, Rule.Momentum::beta),
          number("dampening", 0.0, UNIT_CLOSED, Rule.Momentum::dampening));

  static final RuleDescriptor<Rule.Nesterov, NesterovPipeline> NESTEROV =
      new RuleDescriptor<>(RuleKind.NESTEROV, Rule.Nesterov.class, 1e-3, NesterovPipeline::new, COUPLED,
          v -> new Rule.Nesterov(v.lr(), v.number("beta")),
          number("beta", 0.9, UNIT_CLOSED_OPEN, Rule.Nesterov::beta));

  static final RuleDescriptor<Rule.Adagrad, AdagradPipeline> ADAGRAD =
      new RuleDescriptor<>(RuleKind.ADAGRAD, Rule.Adagrad.class, 1e-2, AdagradPipeline::new, COUPLED,
          v -> new Rule.Adagrad(v.lr(), v.number("eps"), v.number("initialAccumulator"), v.number("lrDecay")),
          number("eps", 1e-10, POSITIVE, Rule.Adagrad::eps),
          number("initialAccumulator", 0.0, NON_NEGATIVE, Rule.Adagrad::initialAccumulator),
          number("lrDecay", 0.0, NON_NEGATIVE, Rule.Adagrad::lrDecay));

  static final RuleDescriptor<Rule.Rmsprop, RmspropPipeline> RMSPROP =
      new RuleDescriptor<>(RuleKind.RMSPROP, Rule.Rmsprop.class, 1e-2, RmspropPipeline::new, COUPLED,
          v -> new Rule.Rmsprop(v.lr(), v.number("rho"), v.number("eps"), v.number("momentum"),
              v.flag("centered"), v.flag("epsInsideSqrt")),
          number("rho", 0.99, UNIT_CLOSED_OPEN, Rule.Rmsprop::rho),
          number("eps", 1e-8, POSITIVE, Rule.Rmsprop::eps),
          number("momentum", 0.0, UNIT_CLOSED_OPEN, Rule.Rmsprop::momentum),
          flag("centered", Rule.Rmsprop::centered),
          flag("epsInsideSqrt", Rule.Rmsprop::epsInsideSqrt));

  static final RuleDescriptor<Rule.Adam, AdamPipeline> ADAM =
      adamFamily(RuleKind.ADAM, Rule.Adam.class, COUPLED, Rule.Adam::new);

  /** Adam with decoupled weight decay, 0.01 unless the pipeline sets one. */
  static final RuleDescriptor<Rule.AdamW, AdamPipeline> ADAMW =
      adamFamily(RuleKind.ADAMW, Rule.AdamW.class, new RuleDescriptor.WeightDecay(true, 0.01), Rule.AdamW::new);

  static final RuleDescriptor<Rule.Lion, LionPipeline> LION =
      new RuleDescriptor<>(RuleKind.LION, Rule.Lion.class, 1e-4, LionPipeline::new, DECOUPLED,
          v -> new Rule.Lion(v.lr(), v.number("beta1"), v.number("beta2")),
          number("beta1", 0.9, UNIT_CLOSED, Rule.Lion::beta1),
          number("beta2", 0.99, UNIT_CLOSED, Rule.Lion::beta2));

  /** In {@link RuleKind} order, which is the order the DSL lists rules in. */
  static final List<RuleDescriptor<?, ?>> ALL =
      Arrays.stream(RuleKind.values()).<RuleDescriptor<?, ?>>map(RuleKind::descriptor).toList();

  static Optional<RuleDescriptor<?, ?>> byName(String name) {
    return ALL.stream().filter(d -> d.name().equals(name)).findFirst();
  }

  /** Adam and AdamW share their hyperparameters; the kernel tells them apart by the weight decay. */
  private static <R extends Rule.AdamFamily> RuleDescriptor<R, AdamPipeline> adamFamily(
      RuleKind kind, Class<R> type, RuleDescriptor.WeightDecay weightDecay, AdamConstructor<R> constructor) {
    return new RuleDescriptor<>(kind, type, 1e-3, AdamPipeline::new, weightDecay,
        v -> constructor.of(v.lr(), v.number("beta1"), v.number("beta2"), v.number("eps"), v.flag("amsgrad")),
        number("beta1", 0.9, UNIT_CLOSED_OPEN, Rule.AdamFamily::beta1),
        number("beta2", 0.999, UNIT_CLOSED_OPEN, Rule.AdamFamily::beta2),
        number("eps", 1e-8, POSITIVE, Rule.AdamFamily::eps),
        flag("amsgrad", Rule.AdamFamily::amsgrad));
  }

  private interface AdamConstructor<R extends Rule.AdamFamily> {
    R of(double lr, double beta1, double beta2, double eps, boolean amsgrad);
  }
}
