package dev.shardopt.train;

import dev.shardopt.client.StepMetric;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import javax.imageio.ImageIO;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.lines.SeriesLines;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * The PNG charts of {@code shardopt train} and {@code shardopt compare}, drawn off-screen with XChart and
 * stacked vertically into one image.
 *
 * <ul>
 *   <li>{@link #trainingPng}: (1) the training loss per step and its moving average
 *       ({@link #smoothingWindow}), log scale; (2) the test accuracy at each evaluation; (3) the coordinator's global
 *       gradient norm before and after clipNorm, log scale.
 *   <li>{@link #comparisonPng}: (1) the moving-average loss of every run, log scale, one series per pipeline;
 *       (2) their gradient norms before clipping (moving average), log scale.
 * </ul>
 */
public final class TrainingCharts {
  public static final int WIDTH = 1000;
  public static final int PANEL_HEIGHT = 380;

  private static final Color RAW = new Color(0x9e, 0xc5, 0xe8);
  private static final Color BLUE = new Color(0x1f, 0x77, 0xb4);
  private static final Color ORANGE = new Color(0xff, 0x7f, 0x0e);
  private static final Color GREEN = new Color(0x2c, 0xa0, 0x2c);
  private static final Color[] PALETTE = {
      BLUE, ORANGE, GREEN, new Color(0xd6, 0x27, 0x28), new Color(0x94, 0x67, 0xbd),
      new Color(0x8c, 0x56, 0x4b), new Color(0xe3, 0x77, 0xc2), new Color(0x7f, 0x7f, 0x7f),
      new Color(0xbc, 0xbd, 0x22), new Color(0x17, 0xbe, 0xcf)};

  private TrainingCharts() {}

  /** The three panels of one run, as PNG bytes. */
  public static byte[] trainingPng(TrainingReport r, String title) throws IOException {
    int n = r.losses().length;
    double[] steps = new double[n];
    for (int i = 0; i < n; i++) {
      steps[i] = i + 1; // the loss of step i is measured before update i+1; plot it at the update count
    }
    int w = smoothingWindow(n);
    XYChart loss = chart(title + ": training loss", "step", "loss (log)", true);
    addLine(loss, "loss per step", steps, positive(r.losses()), RAW, 1f);
    addLine(loss, w + "-step mean", steps, positive(TrainingReport.movingAverage(r.losses(), w)), BLUE, 2f);
    roundXTicks(loss, positive(r.losses())[0]);

    XYChart acc = chart(String.format("test accuracy (final %.4f, %d/%d)", r.accuracy(), r.correct(), r.testSize()),
        "step", "test accuracy", false);
    double[] evalX = new double[r.evalSteps().length];
    for (int i = 0; i < evalX.length; i++) {
      evalX[i] = r.evalSteps()[i];
    }
    XYSeries s = acc.addSeries("test accuracy", evalX, r.evalAccuracy());
    s.setLineColor(GREEN);
    s.setMarkerColor(GREEN);
    s.setMarker(SeriesMarkers.CIRCLE);
    acc.getStyler().setYAxisMax(1.0);
    acc.getStyler().setLegendPosition(Styler.LegendPosition.InsideSE);
    acc.getStyler().setYAxisDecimalPattern("0.00");

    XYChart norms = chart("global gradient norm (coordinator)", "step", "L2 norm (log)", true);
    double[][] pre = normSeries(r.metrics(), false);
    double[][] post = normSeries(r.metrics(), true);
    if (pre[0].length > 0) {
      addLine(norms, "before clipNorm", pre[0], pre[1], ORANGE, 1f);
    }
    if (post[0].length > 0) {
      addLine(norms, "after clipNorm", post[0], post[1], BLUE, 1f);
    }
    if (pre[0].length > 0) {
      roundXTicks(norms, pre[1][0]);
    }
    for (XYChart c : List.of(loss, acc, norms)) {
      c.getStyler().setXAxisMax((double) Math.max(n, r.config().steps()));
    }
    return stack(List.of(loss, acc, norms));
  }

  /** The two panels comparing runs (one series per run, labelled with {@code labels}), as PNG bytes. */
  public static byte[] comparisonPng(List<String> labels, List<TrainingReport> runs, String title) throws IOException {
    if (labels.size() != runs.size()) {
      throw new IllegalArgumentException(labels.size() + " labels for " + runs.size() + " runs");
    }
    int w = smoothingWindow(runs.stream().mapToInt(r -> r.losses().length).max().orElse(1));
    XYChart loss = chart(title + ": training loss (" + w + "-step mean)", "step", "loss (log)", true);
    XYChart norms = chart("gradient norm before clipping (" + w + "-step mean)", "step", "L2 norm (log)", true);
    for (int i = 0; i < runs.size(); i++) {
      TrainingReport r = runs.get(i);
      Color c = PALETTE[i % PALETTE.length];
      double[] steps = new double[r.losses().length];
      for (int j = 0; j < steps.length; j++) {
        steps[j] = j + 1;
      }
      // every other series from the third on is dashed, so that a curve drawn over a neighbour's (momentum
      // and nesterov, adam and adamw often coincide) leaves it visible
      boolean dashed = i > 0 && i % 2 == 0;
      addLine(loss, labels.get(i), steps, positive(TrainingReport.movingAverage(r.losses(), w)), c, 1.5f)
          .setLineStyle(dashed ? SeriesLines.DASH_DASH : SeriesLines.SOLID);
      double[][] pre = normSeries(r.metrics(), false);
      if (pre[0].length > 0) {
        addLine(norms, labels.get(i), pre[0], positive(TrainingReport.movingAverage(pre[1], w)), c, 1.5f)
            .setLineStyle(dashed ? SeriesLines.DASH_DASH : SeriesLines.SOLID);
      }
      if (i == 0) {
        roundXTicks(loss, positive(r.losses())[0]);
        if (pre[0].length > 0) {
          roundXTicks(norms, pre[1][0]);
        }
      }
    }
    double maxSteps = runs.stream().mapToInt(r -> r.losses().length).max().orElse(1);
    for (XYChart c : List.of(loss, norms)) {
      c.getStyler().setXAxisMax(maxSteps);
      c.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE); // up to 10 entries: keep the curves clear
    }
    return stack(List.of(loss, norms));
  }

  /**
   * The trailing window the charts smooth losses and norms over: a fortieth of the run, in [5, 50] steps
   * (a wider one would lag visibly behind a short run's curve).
   */
  public static int smoothingWindow(int steps) {
    return Math.max(5, Math.min(TrainingReport.LOSS_WINDOW, steps / 40));
  }

  /** Writes {@code png} to exactly {@code file}, atomically (a temporary file beside it is renamed). */
  public static void write(Path file, byte[] png) throws IOException {
    Path abs = file.toAbsolutePath();
    Path tmp = abs.resolveSibling("." + abs.getFileName() + "." + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
    try {
      Files.write(tmp, png);
      try {
        Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
      }
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  private static XYChart chart(String title, String x, String y, boolean logY) {
    XYChart c = new XYChartBuilder().width(WIDTH).height(PANEL_HEIGHT).title(title).xAxisTitle(x).yAxisTitle(y).build();
    Styler st = c.getStyler();
    st.setChartBackgroundColor(Color.WHITE);
    st.setPlotBackgroundColor(Color.WHITE);
    st.setPlotBorderVisible(true);
    st.setAntiAlias(true);
    st.setLegendPosition(Styler.LegendPosition.InsideNE);
    st.setLegendBackgroundColor(new Color(255, 255, 255, 220));
    c.getStyler().setYAxisLogarithmic(logY);
    if (logY) {
      // labels at the powers of ten; the grid still marks 2..9 × 10^k. (A custom label function sends
      // XChart 3.8.8's log axis into an endless loop; labelling every tick crowds the axis.)
      c.getStyler().setYAxisLogarithmicDecadeOnly(true);
      c.getStyler().setYAxisDecimalPattern("0.####");
    }
    c.getStyler().setXAxisMin(0.0);
    c.getStyler().setXAxisDecimalPattern("#,##0");
    return c;
  }

  /**
   * Makes XChart 3.8.8 pick round step ticks (0, 200, 400, …): when every x value of a chart lies on one
   * evenly spaced grid (our steps 1, 2, 3, …) it labels every k-th data point instead (69, 138, …). An
   * invisible, unlisted point off that grid, at {@code (0.5, y)}, avoids it.
   */
  private static void roundXTicks(XYChart c, double y) {
    XYSeries s = c.addSeries(" ", new double[] {0.5}, new double[] {y});
    s.setMarker(SeriesMarkers.NONE);
    s.setLineStyle(SeriesLines.NONE);
    s.setShowInLegend(false);
  }

  private static XYSeries addLine(XYChart c, String name, double[] x, double[] y, Color color, float width) {
    XYSeries s = c.addSeries(name, x, y);
    s.setMarker(SeriesMarkers.NONE);
    s.setLineColor(color);
    s.setLineWidth(width);
    return s;
  }

  /** (steps, norms) of the applied steps: before clipping, or after ({@code clipped}). */
  private static double[][] normSeries(List<StepMetric> metrics, boolean clipped) {
    List<double[]> pts = new ArrayList<>();
    for (StepMetric m : metrics) {
      double v = clipped ? m.clippedNorm() : m.gradientNorm();
      if (!m.skipped() && Double.isFinite(v) && v > 0) {
        pts.add(new double[] {m.step() + 1, v});
      }
    }
    double[][] out = new double[2][pts.size()];
    for (int i = 0; i < pts.size(); i++) {
      out[0][i] = pts.get(i)[0];
      out[1][i] = pts.get(i)[1];
    }
    return out;
  }

  /** Values floored at a tiny positive number, for a log axis. */
  private static double[] positive(double[] v) {
    double[] out = new double[v.length];
    for (int i = 0; i < v.length; i++) {
      out[i] = Double.isFinite(v[i]) ? Math.max(v[i], 1e-12) : 1e-12;
    }
    return out;
  }

  private static byte[] stack(List<XYChart> charts) throws IOException {
    int height = 0;
    List<BufferedImage> images = new ArrayList<>();
    for (XYChart c : charts) {
      BufferedImage img = BitmapEncoder.getBufferedImage(c);
      images.add(img);
      height += img.getHeight();
    }
    BufferedImage all = new BufferedImage(WIDTH, height, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = all.createGraphics();
    try {
      g.setColor(Color.WHITE);
      g.fillRect(0, 0, WIDTH, height);
      int y = 0;
      for (BufferedImage img : images) {
        g.drawImage(img, 0, y, null);
        y += img.getHeight();
      }
    } finally {
      g.dispose();
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    if (!ImageIO.write(all, "png", out)) {
      throw new IOException("no PNG writer available");
    }
    return out.toByteArray();
  }
}
