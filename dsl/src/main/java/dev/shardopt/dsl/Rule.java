package dev.shardopt.dsl;

import java.util.List;

/**
 * The base update rule of a pipeline with its hyperparameters. The exact update of each rule is in
 * its kernel's javadoc and in {@code docs/formulas.md}.
 *
 * <p>The records only carry values: a rule's name, defaults (PyTorch's), allowed ranges, text and
 * proto form are in its descriptor, which validates every rule the DSL builds. Code that needs one
 * branch per rule switches on {@link #kind()}, which javac checks for exhaustiveness.
 */
public sealed interface Rule
    permits Rule.Sgd, Rule.Momentum, Rule.Nesterov, Rule.Adagrad, Rule.Rmsprop, Rule.AdamFamily,
        Rule.Lion {

  RuleKind kind();

  /** The base learning rate before the schedule. */
  double lr();

  /** The rule's name in the DSL, e.g. {@code "adam"}. */
  default String name() {
    return kind().dslName();
  }

  /** The rule's modifiers in canonical order, e.g. {@code beta1, beta2, eps, amsgrad}. */
  default List<String> modifiers() {
    return kind().descriptor().modifierNames();
  }

  /** Whether weight decay is decoupled ({@code theta *= 1 - lr_t*wd}) rather than added to g. */
  default boolean decoupledWeightDecay() {
    return kind().descriptor().decoupledWeightDecay();
  }

  /** Weight decay when the pipeline does not set one. */
  default double defaultWeightDecay() {
    return kind().descriptor().defaultWeightDecay();
  }

  /** {@code theta -= lr_t g}. */
  record Sgd(double lr) implements Rule {
    @Override
    public RuleKind kind() {
      return RuleKind.SGD;
    }
  }

  /** {@code b = g} on the first step, else {@code b = beta b + (1-dampening) g}; {@code theta -= lr_t b}. */
  record Momentum(double lr, double beta, double dampening) implements Rule {
    @Override
    public RuleKind kind() {
      return RuleKind.MOMENTUM;
    }
  }

  /** {@code b = g} on the first step, else {@code b = beta b + g}; {@code theta -= lr_t (g + beta b)}. */
  record Nesterov(double lr, double beta) implements Rule {
    @Override
    public RuleKind kind() {
      return RuleKind.NESTEROV;
    }
  }

  /** {@code clr = lr_t/(1+(k-1) lrDecay)}; {@code G += g^2}; {@code theta -= clr g/(sqrt(G) + eps)}. */
  record Adagrad(double lr, double eps, double initialAccumulator, double lrDecay) implements Rule {
    @Override
    public RuleKind kind() {
      return RuleKind.ADAGRAD;
    }
  }

  /**
   * {@code v = rho v + (1-rho) g^2}; centered: {@code a = rho a + (1-rho) g}, {@code d = v - a^2},
   * else {@code d = v}; {@code den = sqrt(d) + eps} (or {@code sqrt(d + eps)} with epsInsideSqrt);
   * momentum: {@code buf = momentum buf + g/den}, {@code theta -= lr_t buf}; else {@code theta -= lr_t g/den}.
   */
  record Rmsprop(
      double lr, double rho, double eps, double momentum, boolean centered, boolean epsInsideSqrt)
      implements Rule {
    @Override
    public RuleKind kind() {
      return RuleKind.RMSPROP;
    }
  }

  /**
   * Adam and AdamW: one kernel, which tells them apart by {@link #decoupledWeightDecay()}.
   * {@code m = b1 m + (1-b1) g}; {@code v = b2 v + (1-b2) g^2} (amsgrad: {@code vmax = max(vmax, v)});
   * {@code theta -= lr_t (m/(1-b1^k)) / (sqrt(v/(1-b2^k)) + eps)}: PyTorch's eps placement.
   */
  sealed interface AdamFamily extends Rule permits Adam, AdamW {
    double beta1();

    double beta2();

    double eps();

    boolean amsgrad();
  }

  /** Adam with weight decay added to the gradient. */
  record Adam(double lr, double beta1, double beta2, double eps, boolean amsgrad) implements AdamFamily {
    @Override
    public RuleKind kind() {
      return RuleKind.ADAM;
    }
  }

  /** Adam with decoupled weight decay, {@code theta *= 1 - lr_t wd} before the step; wd defaults to 0.01. */
  record AdamW(double lr, double beta1, double beta2, double eps, boolean amsgrad) implements AdamFamily {
    @Override
    public RuleKind kind() {
      return RuleKind.ADAMW;
    }
  }

  /**
   * {@code c = b1 m + (1-b1) g}; {@code theta -= lr_t sign(c)} (sign(0) = 0); {@code m = b2 m + (1-b2) g};
   * weight decay is decoupled.
   */
  record Lion(double lr, double beta1, double beta2) implements Rule {
    @Override
    public RuleKind kind() {
      return RuleKind.LION;
    }
  }
}
