package dev.shardopt.cli.watch;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The full-screen text of a {@link ClusterView}: a header, the workers' table, the models' table
 * with a gradient-norm and a learning-rate sparkline under each model. Every line is cut to the
 * terminal's width and the whole to its height, the last line then saying how many were left out.
 */
public final class ScreenLayout {
  private final Sparkline sparkline;

  public ScreenLayout(Sparkline sparkline) {
    this.sparkline = sparkline;
  }

  public List<String> lines(ClusterView view, int width, int height) {
    List<String> out = new ArrayList<>();
    out.add(String.format(Locale.ROOT, "shardopt watch  coordinator %s  %d worker%s (%d healthy)  %d model%s  refresh %d  q: quit",
        view.coordinator(), view.workers().size(), view.workers().size() == 1 ? "" : "s", view.healthyWorkers(),
        view.models().size(), view.models().size() == 1 ? "" : "s", view.samples()));
    if (view.error() != null) {
      out.add("coordinator unreachable: " + view.error() + (view.workers().isEmpty() && view.models().isEmpty()
          ? "" : " (showing its last answer)"));
    }
    out.add("");
    int nameWidth = Math.max("WORKER".length(), view.workers().stream().mapToInt(w -> w.name().length()).max().orElse(0));
    String workerFormat = "%-" + nameWidth + "s  %-21s  %-9s  %7s  %6s";
    out.add(String.format(Locale.ROOT, workerFormat, "WORKER", "ADDRESS", "HEALTH", "LAST", "SHARDS"));
    for (ClusterView.WorkerRow w : view.workers()) {
      out.add(String.format(Locale.ROOT, workerFormat, w.name(), w.address(), w.healthy() ? "healthy" : "UNHEALTHY",
          w.millisSinceHeartbeat() + "ms", w.shards()));
    }
    out.add("");
    nameWidth = Math.max("MODEL".length(), view.models().stream().mapToInt(m -> m.name().length()).max().orElse(0));
    String modelFormat = "%-" + nameWidth + "s  %-5s  %-7s  %9s  %8s  %8s  %8s";
    out.add(String.format(Locale.ROOT, modelFormat, "MODEL", "MODE", "STATE", "STEP", "STEPS/S", "SKIPPED", "DUPS"));
    int chartWidth = Math.max(8, width - 32);
    for (ClusterView.ModelRow m : view.models()) {
      out.add(String.format(Locale.ROOT, modelFormat, m.name(), m.mode(), m.state(), m.step(), rate(m.stepsPerSecond()),
          m.skipped(), m.duplicates()));
      out.add(chartLine("grad norm", m.gradientNorms(), chartWidth));
      out.add(chartLine("lr", m.learningRates(), chartWidth));
      if (!m.failure().isEmpty()) {
        out.add("  failure: " + m.failure());
      }
    }
    if (out.size() > height) {
      int kept = Math.max(0, height - 1);
      int left = out.size() - kept;
      out = new ArrayList<>(out.subList(0, kept));
      out.add("(" + left + " more lines: make the terminal taller)");
    }
    List<String> cut = new ArrayList<>();
    for (String line : out) {
      cut.add(line.length() > width ? line.substring(0, width) : line);
    }
    return cut;
  }

  /** {@code "12.5"}, or {@code "-"} while unknown. */
  static String rate(double stepsPerSecond) {
    return Double.isNaN(stepsPerSecond) ? "-" : String.format(Locale.ROOT, "%.1f", stepsPerSecond);
  }

  /** The latest value in the {@code %.4g} form, or {@code "-"} with none. */
  static String last(List<Double> values) {
    return values.isEmpty() ? "-" : String.format(Locale.ROOT, "%.4g", values.get(values.size() - 1));
  }

  private String chartLine(String label, List<Double> values, int chartWidth) {
    return String.format(Locale.ROOT, "  %-9s  %-" + chartWidth + "s  last %s", label, sparkline.render(values, chartWidth),
        last(values));
  }
}
