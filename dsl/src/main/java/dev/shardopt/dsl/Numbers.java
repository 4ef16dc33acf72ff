package dev.shardopt.dsl;

import java.math.BigDecimal;

/** Canonical number literals for the text form: valid Java, shortest of plain and scientific. */
final class Numbers {
  private Numbers() {}

  /**
   * Formats a double as the shorter of its plain ({@code 0.9}, {@code 3000.0}) and scientific
   * ({@code 1e-3}, {@code 2.5e-7}) forms, preferring plain on a tie and for whole numbers below
   * 1e5 ({@code 3000.0}, not {@code 3e3}). Both parse back to the same
   * double, since they denote the same decimal.
   */
  static String format(double x) {
    if (Double.isNaN(x)) {
      return "NaN";
    }
    if (Double.isInfinite(x)) {
      return x > 0 ? "inf" : "-inf";
    }
    if (x == 0) {
      return "0.0";
    }
    BigDecimal d = new BigDecimal(Double.toString(x)).stripTrailingZeros();
    String plain = d.toPlainString();
    if (plain.indexOf('.') < 0) {
      plain = plain + ".0";
    }
    String digits = d.unscaledValue().abs().toString();
    int exponent = digits.length() - 1 - d.scale();
    String mantissa = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
    String scientific = (x < 0 ? "-" : "") + mantissa + "e" + exponent;
    boolean smallWhole = x == Math.rint(x) && Math.abs(x) < 1e5;
    return !smallWhole && scientific.length() < plain.length() ? scientific : plain;
  }
}
