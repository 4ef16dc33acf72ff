package dev.shardopt.bench.cluster;

import java.util.Arrays;
import java.util.Locale;

/** Timings of repeated runs, in seconds; the median is the reported figure. */
record Samples(String name, double[] seconds) {
  double median() {
    double[] s = seconds.clone();
    Arrays.sort(s);
    int n = s.length;
    return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  }

  double min() {
    return Arrays.stream(seconds).min().orElse(Double.NaN);
  }

  double max() {
    return Arrays.stream(seconds).max().orElse(Double.NaN);
  }

  /** MB/s (10^6 bytes per second) at the median time. */
  double mbPerSecond(long bytes) {
    return bytes / 1e6 / median();
  }

  String describe() {
    StringBuilder b = new StringBuilder();
    for (double s : seconds) {
      b.append(b.length() == 0 ? "" : " ").append(String.format(Locale.ROOT, "%.1f", s * 1e3));
    }
    return name + ": median " + String.format(Locale.ROOT, "%.1f", median() * 1e3) + " ms of [" + b + "] ms";
  }
}
