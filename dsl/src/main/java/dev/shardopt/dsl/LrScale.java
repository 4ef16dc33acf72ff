package dev.shardopt.dsl;

/** {@code lrScale(glob, factor)}: matching parameters use {@code lr_t * factor} everywhere. */
public record LrScale(Glob glob, double factor) {
  public LrScale {
    factor = Check.nonNegative("lrScale factor", factor);
  }
}
