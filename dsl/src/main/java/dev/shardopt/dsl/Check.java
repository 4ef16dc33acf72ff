package dev.shardopt.dsl;

/**
 * Range checks whose messages read like {@code beta2 must be in [0, 1), got 1.5}. Each returns the
 * value with {@code -0.0} read as {@code +0.0} ({@code value + 0.0}): the text form prints both as
 * {@code 0.0}, and the value records compare doubles bitwise, so a kept {@code -0.0} would make a
 * pipeline differ from its own text read back.
 */
final class Check {
  private Check() {}

  static double closedOpen(String name, double value, double lo, double hi) {
    if (!(value >= lo && value < hi)) {
      throw outOfRange(name, value, "[" + bound(lo) + ", " + bound(hi) + ")");
    }
    return value + 0.0;
  }

  static double closed(String name, double value, double lo, double hi) {
    if (!(value >= lo && value <= hi)) {
      throw outOfRange(name, value, "[" + bound(lo) + ", " + bound(hi) + "]");
    }
    return value + 0.0;
  }

  static double openClosed(String name, double value, double lo, double hi) {
    if (!(value > lo && value <= hi)) {
      throw outOfRange(name, value, "(" + bound(lo) + ", " + bound(hi) + "]");
    }
    return value + 0.0;
  }

  /** Finite and {@code >= 0}. */
  static double nonNegative(String name, double value) {
    if (!(value >= 0 && value < Double.POSITIVE_INFINITY)) {
      throw outOfRange(name, value, "[0, inf) and finite");
    }
    return value + 0.0;
  }

  /** Finite and {@code > 0}. */
  static double positive(String name, double value) {
    if (!(value > 0 && value < Double.POSITIVE_INFINITY)) {
      throw outOfRange(name, value, "(0, inf) and finite");
    }
    return value + 0.0;
  }

  /** A whole number of steps, at least {@code min}. */
  static long steps(String name, double value, long min) {
    if (Double.isNaN(value) || value != Math.rint(value)) {
      throw new InvalidPipelineException(
          name + " must be a whole number of steps, got " + Numbers.format(value));
    }
    if (value < min || value > Long.MAX_VALUE / 2) {
      throw new InvalidPipelineException(
          name + " must be in [" + min + ", inf), got " + bound(value));
    }
    return (long) value;
  }

  static long steps(String name, long value, long min) {
    if (value < min) {
      throw new InvalidPipelineException(name + " must be in [" + min + ", inf), got " + value);
    }
    return value;
  }

  private static String bound(double x) {
    return x == Math.rint(x) ? Long.toString((long) x) : Numbers.format(x);
  }

  private static InvalidPipelineException outOfRange(String name, double value, String allowed) {
    return new InvalidPipelineException(
        name + " must be in " + allowed + ", got " + Numbers.format(value));
  }
}
