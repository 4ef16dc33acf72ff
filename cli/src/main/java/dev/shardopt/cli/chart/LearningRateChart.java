package dev.shardopt.cli.chart;

import java.awt.Color;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.BitmapEncoder.BitmapFormat;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * A line chart of a learning-rate schedule ({@code shardopt describe --plot lr.png}): x is the step, y the
 * learning rate, one series, no legend. Drawn off-screen (works headless).
 *
 * <pre>{@code
 * new LearningRateChart("adam(0.01).warmup(10)", steps, lrs).writePng(Path.of("lr.png"), 800, 500);
 * }</pre>
 */
public final class LearningRateChart {

  public static final int DEFAULT_WIDTH = 800;
  public static final int DEFAULT_HEIGHT = 500;

  private final String title;
  private final double[] xs;
  private final double[] ys;

  /**
   * @param title the chart title (e.g. the pipeline text)
   * @param xs    the steps, at least one, all finite
   * @param ys    the learning rate at each step, as many as {@code xs}, all finite
   */
  public LearningRateChart(String title, double[] xs, double[] ys) {
    this.title = Objects.requireNonNull(title, "title");
    Objects.requireNonNull(xs, "xs");
    Objects.requireNonNull(ys, "ys");
    if (xs.length != ys.length) {
      throw new IllegalArgumentException("xs has " + xs.length + " values, ys has " + ys.length);
    }
    if (xs.length == 0) {
      throw new IllegalArgumentException("nothing to plot: no steps");
    }
    for (int i = 0; i < xs.length; i++) {
      if (!Double.isFinite(xs[i]) || !Double.isFinite(ys[i])) {
        throw new IllegalArgumentException("non-finite point at index " + i + ": (" + xs[i] + ", " + ys[i] + ")");
      }
    }
    this.xs = xs.clone();
    this.ys = ys.clone();
  }

  /** The XChart chart, for callers that want to adjust it before encoding. */
  public XYChart toChart(int width, int height) {
    if (width <= 0 || height <= 0) {
      throw new IllegalArgumentException("width and height must be positive, got " + width + "x" + height);
    }
    XYChart chart = new XYChartBuilder()
        .width(width)
        .height(height)
        .title(title)
        .xAxisTitle("step")
        .yAxisTitle("learning rate")
        .build();
    chart.getStyler().setLegendVisible(false);
    chart.getStyler().setChartBackgroundColor(Color.WHITE);
    chart.getStyler().setPlotBackgroundColor(Color.WHITE);
    chart.getStyler().setPlotBorderVisible(true);
    chart.getStyler().setAntiAlias(true);
    chart.getStyler().setYAxisMin(Math.min(0.0, min(ys)));
    // plain decimals with a leading zero (0.0003) for usual rates, scientific (5.0E-5) for tiny ones
    chart.getStyler().setYAxisDecimalPattern(maxAbs(ys) >= 1e-3 ? "0.######" : "0.0##E0");
    XYSeries series = chart.addSeries("learning rate", xs, ys);
    series.setMarker(xs.length <= 50 ? SeriesMarkers.CIRCLE : SeriesMarkers.NONE);
    series.setLineColor(new Color(0x1f, 0x77, 0xb4));
    series.setMarkerColor(new Color(0x1f, 0x77, 0xb4));
    return chart;
  }

  /** The PNG bytes of the chart at {@code width} x {@code height} pixels. */
  public byte[] toPng(int width, int height) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    BitmapEncoder.saveBitmap(toChart(width, height), out, BitmapFormat.PNG);
    return out.toByteArray();
  }

  /**
   * Writes the chart as a PNG of {@code width} x {@code height} pixels to exactly {@code file} (no extension
   * is added), atomically: a temporary file beside it is renamed into place.
   */
  public void writePng(Path file, int width, int height) throws IOException {
    byte[] png = toPng(width, height);
    Path abs = file.toAbsolutePath();
    Path tmp = abs.resolveSibling("." + abs.getFileName() + "." + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
    try {
      Files.write(tmp, png);
      try {
        Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
      }
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  /** {@link #writePng(Path, int, int)} at {@value #DEFAULT_WIDTH} x {@value #DEFAULT_HEIGHT}. */
  public void writePng(Path file) throws IOException {
    writePng(file, DEFAULT_WIDTH, DEFAULT_HEIGHT);
  }

  private static double maxAbs(double[] v) {
    double m = 0;
    for (double d : v) {
      m = Math.max(m, Math.abs(d));
    }
    return m;
  }

  private static double min(double[] v) {
    double m = Double.POSITIVE_INFINITY;
    for (double d : v) {
      m = Math.min(m, d);
    }
    return m;
  }
}
