package dev.shardopt.dsl;

/** The values a hyperparameter allows; refuses others with a message naming the field. */
@FunctionalInterface
interface Validator {
  Validator UNIT_CLOSED_OPEN = (name, value) -> Check.closedOpen(name, value, 0, 1);
  Validator UNIT_CLOSED = (name, value) -> Check.closed(name, value, 0, 1);
  Validator POSITIVE = Check::positive;
  Validator NON_NEGATIVE = Check::nonNegative;
  /** Flags hold 0 or 1, and only the DSL sets them. */
  Validator FLAG = (name, value) -> value;

  /** Returns {@code value}, or throws {@link InvalidPipelineException} naming {@code name}. */
  double check(String name, double value);
}
