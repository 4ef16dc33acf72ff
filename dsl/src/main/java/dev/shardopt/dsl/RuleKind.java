package dev.shardopt.dsl;

import java.util.Locale;

/**
 * The base rules. Code that needs one branch per rule switches on {@link Rule#kind()} with a switch
 * expression and no default, so that javac refuses it when a rule is added and a branch is missing.
 */
public enum RuleKind {
  SGD,
  MOMENTUM,
  NESTEROV,
  ADAGRAD,
  RMSPROP,
  ADAM,
  ADAMW,
  LION;

  /** The rule's name in the DSL and in the proto's {@code rule} oneof, e.g. {@code "adamw"}. */
  public String dslName() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** The rule's one definition: hyperparameters, defaults, text, proto and typed pipeline. */
  RuleDescriptor<?, ?> descriptor() {
    return switch (this) {
      case SGD -> RuleDescriptors.SGD;
      case MOMENTUM -> RuleDescriptors.MOMENTUM;
      case NESTEROV -> RuleDescriptors.NESTEROV;
      case ADAGRAD -> RuleDescriptors.ADAGRAD;
      case RMSPROP -> RuleDescriptors.RMSPROP;
      case ADAM -> RuleDescriptors.ADAM;
      case ADAMW -> RuleDescriptors.ADAMW;
      case LION -> RuleDescriptors.LION;
    };
  }
}
