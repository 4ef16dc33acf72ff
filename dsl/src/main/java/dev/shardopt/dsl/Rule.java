package dev.shardopt.dsl;

import java.util.List;

/**
 * The base update rule of a pipeline with its hyperparameters. Defaults match PyTorch. The exact
 * update of each rule is in its kernel's javadoc and in {@code docs/formulas.md}.
 */
public sealed interface Rule
    permits Rule.Sgd, Rule.Momentum, Rule.Nesterov, Rule.Adagrad, Rule.Rmsprop, Rule.Adam,
        Rule.AdamW, Rule.Lion {

  /** The rule's name in the DSL, e.g. {@code "adam"}. */
  String name();

  /** The base learning rate before the schedule. */
  double lr();

  /** The rule's modifiers in canonical order, e.g. {@code beta1, beta2, eps, amsgrad}. */
  List<String> modifiers();

  /** Whether weight decay is decoupled ({@code theta *= 1 - lr_t*wd}) rather than added to g. */
  default boolean decoupledWeightDecay() {
    return false;
  }

  /** Weight decay when the pipeline does not set one. */
  default double defaultWeightDecay() {
    return 0.0;
  }

  /** The same rule with another base learning rate. */
  Rule withLr(double lr);

  static double checkLr(double lr) {
    return Check.nonNegative("lr", lr);
  }

  /** {@code theta -= lr_t g}. */
  record Sgd(double lr) implements Rule {
    public static final double DEFAULT_LR = 1e-3;

    public Sgd {
      checkLr(lr);
    }

    @Override
    public String name() {
      return "sgd";
    }

    @Override
    public List<String> modifiers() {
      return List.of();
    }

    @Override
    public Sgd withLr(double lr) {
      return new Sgd(lr);
    }
  }

  /** {@code b = g} on the first step, else {@code b = beta b + (1-dampening) g}; {@code theta -= lr_t b}. */
  record Momentum(double lr, double beta, double dampening) implements Rule {
    public static final Momentum DEFAULTS = new Momentum(1e-3, 0.9, 0.0);

    public Momentum {
      checkLr(lr);
      Check.closedOpen("beta", beta, 0, 1);
      Check.closed("dampening", dampening, 0, 1);
    }

    @Override
    public String name() {
      return "momentum";
    }

    @Override
    public List<String> modifiers() {
      return List.of("beta", "dampening");
    }

    @Override
    public Momentum withLr(double lr) {
      return new Momentum(lr, beta, dampening);
    }
  }

  /** {@code b = g} on the first step, else {@code b = beta b + g}; {@code theta -= lr_t (g + beta b)}. */
  record Nesterov(double lr, double beta) implements Rule {
    public static final Nesterov DEFAULTS = new Nesterov(1e-3, 0.9);

    public Nesterov {
      checkLr(lr);
      Check.closedOpen("beta", beta, 0, 1);
    }

    @Override
    public String name() {
      return "nesterov";
    }

    @Override
    public List<String> modifiers() {
      return List.of("beta");
    }

    @Override
    public Nesterov withLr(double lr) {
      return new Nesterov(lr, beta);
    }
  }

  /** {@code clr = lr_t/(1+(k-1) lrDecay)}; {@code G += g^2}; {@code theta -= clr g/(sqrt(G) + eps)}. */
  record Adagrad(double lr, double eps, double initialAccumulator, double lrDecay) implements Rule {
    public static final Adagrad DEFAULTS = new Adagrad(1e-2, 1e-10, 0.0, 0.0);

    public Adagrad {
      checkLr(lr);
      Check.positive("eps", eps);
      Check.nonNegative("initialAccumulator", initialAccumulator);
      Check.nonNegative("lrDecay", lrDecay);
    }

    @Override
    public String name() {
      return "adagrad";
    }

    @Override
    public List<String> modifiers() {
      return List.of("eps", "initialAccumulator", "lrDecay");
    }

    @Override
    public Adagrad withLr(double lr) {
      return new Adagrad(lr, eps, initialAccumulator, lrDecay);
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
    public static final Rmsprop DEFAULTS = new Rmsprop(1e-2, 0.99, 1e-8, 0.0, false, false);

    public Rmsprop {
      checkLr(lr);
      Check.closedOpen("rho", rho, 0, 1);
      Check.positive("eps", eps);
      Check.closedOpen("momentum", momentum, 0, 1);
    }

    @Override
    public String name() {
      return "rmsprop";
    }

    @Override
    public List<String> modifiers() {
      return List.of("rho", "eps", "momentum", "centered", "epsInsideSqrt");
    }

    @Override
    public Rmsprop withLr(double lr) {
      return new Rmsprop(lr, rho, eps, momentum, centered, epsInsideSqrt);
    }
  }

  /**
   * {@code m = b1 m + (1-b1) g}; {@code v = b2 v + (1-b2) g^2} (amsgrad: {@code vmax = max(vmax, v)});
   * {@code theta -= lr_t (m/(1-b1^k)) / (sqrt(v/(1-b2^k)) + eps)}: PyTorch's eps placement.
   */
  record Adam(double lr, double beta1, double beta2, double eps, boolean amsgrad) implements Rule {
    public static final Adam DEFAULTS = new Adam(1e-3, 0.9, 0.999, 1e-8, false);

    public Adam {
      checkLr(lr);
      Check.closedOpen("beta1", beta1, 0, 1);
      Check.closedOpen("beta2", beta2, 0, 1);
      Check.positive("eps", eps);
    }

    @Override
    public String name() {
      return "adam";
    }

    @Override
    public List<String> modifiers() {
      return List.of("beta1", "beta2", "eps", "amsgrad");
    }

    @Override
    public Adam withLr(double lr) {
      return new Adam(lr, beta1, beta2, eps, amsgrad);
    }
  }

  /** Adam with decoupled weight decay, {@code theta *= 1 - lr_t wd} before the step; wd defaults to 0.01. */
  record AdamW(double lr, double beta1, double beta2, double eps, boolean amsgrad) implements Rule {
    public static final AdamW DEFAULTS = new AdamW(1e-3, 0.9, 0.999, 1e-8, false);
    public static final double DEFAULT_WEIGHT_DECAY = 0.01;

    public AdamW {
      checkLr(lr);
      Check.closedOpen("beta1", beta1, 0, 1);
      Check.closedOpen("beta2", beta2, 0, 1);
      Check.positive("eps", eps);
    }

    @Override
    public String name() {
      return "adamw";
    }

    @Override
    public List<String> modifiers() {
      return List.of("beta1", "beta2", "eps", "amsgrad");
    }

    @Override
    public boolean decoupledWeightDecay() {
      return true;
    }

    @Override
    public double defaultWeightDecay() {
      return DEFAULT_WEIGHT_DECAY;
    }

    @Override
    public AdamW withLr(double lr) {
      return new AdamW(lr, beta1, beta2, eps, amsgrad);
    }
  }

  /**
   * {@code c = b1 m + (1-b1) g}; {@code theta -= lr_t sign(c)} (sign(0) = 0); {@code m = b2 m + (1-b2) g};
   * weight decay is decoupled.
   */
  record Lion(double lr, double beta1, double beta2) implements Rule {
    public static final Lion DEFAULTS = new Lion(1e-4, 0.9, 0.99);

    public Lion {
      checkLr(lr);
      Check.closed("beta1", beta1, 0, 1);
      Check.closed("beta2", beta2, 0, 1);
    }

    @Override
    public String name() {
      return "lion";
    }

    @Override
    public List<String> modifiers() {
      return List.of("beta1", "beta2");
    }

    @Override
    public boolean decoupledWeightDecay() {
      return true;
    }

    @Override
    public Lion withLr(double lr) {
      return new Lion(lr, beta1, beta2);
    }
  }
}
