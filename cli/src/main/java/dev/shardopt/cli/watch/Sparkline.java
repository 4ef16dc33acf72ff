package dev.shardopt.cli.watch;

import java.util.List;

/**
 * A one-line chart of a series, one character per value.
 *
 * <p>The rule, exactly: of the last {@code width} values, the finite ones span [lo, hi]; a finite
 * value v gets level {@code hi == lo ? 0 : min(k - 1, floor((v - lo) / (hi - lo) * k))} of the
 * alphabet's k levels (lo gets the lowest, hi the highest), a NaN or infinite value the marker.
 */
public final class Sparkline {
  /** Eight block heights, for a terminal that can show them. */
  public static final Sparkline BLOCKS = new Sparkline("▁▂▃▄▅▆▇█", '!');
  /** Eight ASCII levels, for one that cannot. */
  public static final Sparkline ASCII = new Sparkline("_.:-=+*#", '!');

  private final String levels;
  private final char nonFinite;

  public Sparkline(String levels, char nonFinite) {
    if (levels.length() < 2) {
      throw new IllegalArgumentException("a sparkline needs at least 2 levels, got \"" + levels + "\"");
    }
    this.levels = levels;
    this.nonFinite = nonFinite;
  }

  /** The chart of the last {@code width} of {@code values} (fewer characters when there are fewer values). */
  public String render(List<Double> values, int width) {
    List<Double> shown = values.subList(Math.max(0, values.size() - width), values.size());
    double lo = Double.POSITIVE_INFINITY;
    double hi = Double.NEGATIVE_INFINITY;
    for (double v : shown) {
      if (Double.isFinite(v)) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
    }
    int k = levels.length();
    StringBuilder out = new StringBuilder(shown.size());
    for (double v : shown) {
      if (!Double.isFinite(v)) {
        out.append(nonFinite);
      } else {
        int level = hi == lo ? 0 : (int) Math.min(k - 1, Math.floor((v - lo) / (hi - lo) * k));
        out.append(levels.charAt(level));
      }
    }
    return out.toString();
  }
}
