package dev.shardopt.train;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.OptionalInt;

/**
 * The table of {@code shardopt compare}: one row per pipeline with the final training loss (mean of the last
 * {@value TrainingReport#LOSS_WINDOW} steps), the final test accuracy, the steps until the
 * {@value TrainingReport#LOSS_WINDOW}-step mean loss first reached the threshold ("—" if never), and the
 * training wall time. As aligned text or as a Markdown table.
 */
public final class ComparisonTable {
  private static final String[] HEADER = {"pipeline", "final loss", "test acc", "steps to loss ≤ ", "time (s)"};

  private final List<String> labels;
  private final List<TrainingReport> runs;
  private final double threshold;

  public ComparisonTable(List<String> labels, List<TrainingReport> runs, double threshold) {
    if (labels.size() != runs.size()) {
      throw new IllegalArgumentException(labels.size() + " labels for " + runs.size() + " runs");
    }
    this.labels = List.copyOf(labels);
    this.runs = List.copyOf(runs);
    this.threshold = threshold;
  }

  /** The cells, header first. */
  public List<String[]> rows() {
    List<String[]> rows = new ArrayList<>();
    String[] h = HEADER.clone();
    h[3] = h[3] + format(threshold);
    rows.add(h);
    for (int i = 0; i < runs.size(); i++) {
      TrainingReport r = runs.get(i);
      OptionalInt reached = r.stepsToLoss(threshold);
      rows.add(new String[] {
          labels.get(i),
          String.format(Locale.ROOT, "%.4f", r.finalLoss()),
          String.format(Locale.ROOT, "%.4f", r.accuracy()),
          reached.isPresent() ? Integer.toString(reached.getAsInt()) : "—",
          String.format(Locale.ROOT, "%.1f", r.trainSeconds())});
    }
    return rows;
  }

  /** Aligned columns, two spaces apart; numbers right-aligned. */
  public String text() {
    List<String[]> rows = rows();
    int[] w = new int[HEADER.length];
    for (String[] row : rows) {
      for (int c = 0; c < row.length; c++) {
        w[c] = Math.max(w[c], row[c].length());
      }
    }
    StringBuilder sb = new StringBuilder();
    for (String[] row : rows) {
      StringBuilder line = new StringBuilder();
      for (int c = 0; c < row.length; c++) {
        if (c > 0) {
          line.append("  ");
        }
        String pad = " ".repeat(w[c] - row[c].length());
        line.append(c == 0 ? row[c] + pad : pad + row[c]);
      }
      sb.append(line.toString().stripTrailing()).append('\n');
    }
    return sb.toString();
  }

  /** A Markdown table (pipelines in backticks). */
  public String markdown() {
    List<String[]> rows = rows();
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < rows.size(); i++) {
      String[] row = rows.get(i).clone();
      if (i > 0) {
        row[0] = "`" + row[0] + "`";
      }
      sb.append("| ").append(String.join(" | ", row)).append(" |\n");
      if (i == 0) {
        sb.append("|---|---:|---:|---:|---:|\n");
      }
    }
    return sb.toString();
  }

  private static String format(double v) {
    String s = String.format(Locale.ROOT, "%.6g", v);
    if (s.contains(".") && !s.contains("e")) {
      s = s.replaceAll("0+$", "").replaceAll("\\.$", "");
    }
    return s;
  }
}
