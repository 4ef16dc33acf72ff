package dev.shardopt.dsl;

import java.util.function.Predicate;
import java.util.function.ToDoubleFunction;

/**
 * One hyperparameter of a rule: its DSL name, default, allowed values and how to read it from the
 * rule. A flag ({@code amsgrad()}) takes no argument, is off by default and reads as 1 or 0.
 */
record Hyperparameter<R extends Rule>(
    String name, double defaultValue, Validator validator, ToDoubleFunction<? super R> getter, boolean flag) {

  static <R extends Rule> Hyperparameter<R> number(
      String name, double defaultValue, Validator validator, ToDoubleFunction<? super R> getter) {
    return new Hyperparameter<>(name, defaultValue, validator, getter, false);
  }

  static <R extends Rule> Hyperparameter<R> flag(String name, Predicate<? super R> getter) {
    return new Hyperparameter<>(name, 0, Validator.FLAG, r -> getter.test(r) ? 1 : 0, true);
  }

  boolean isDefault(double value) {
    return Double.compare(value, defaultValue) == 0;
  }

  /** The modifier call with {@code value}, e.g. {@code beta2(0.98)} or {@code amsgrad()}. */
  String call(double value) {
    return name + "(" + (flag ? "" : Numbers.format(value)) + ")";
  }
}
