package dev.shardopt.train;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.GZIPInputStream;

/**
 * The UCI "Optical Recognition of Handwritten Digits" set as shipped in {@code examples/data}: 1797 rows
 * of 64 pixel counts (0..16, an 8x8 image, row-major) and a label 0..9. The module's build puts the file
 * on the classpath as {@value #RESOURCE}. Pixels are scaled by 1/16 to [0, 1].
 *
 * <p>Immutable: the arrays are copied in and out.
 */
public final class DigitsData {
  /** The classpath location of the gzipped CSV. */
  public static final String RESOURCE = "digits/digits.csv.gz";
  public static final int FEATURES = 64;
  public static final int CLASSES = 10;
  public static final int MAX_PIXEL = 16;

  private final float[] features; // rows x 64, row-major, scaled to [0, 1]
  private final int[] labels;

  private DigitsData(float[] features, int[] labels) {
    this.features = features;
    this.labels = labels;
  }

  /** The data set from the classpath ({@value #RESOURCE}). */
  public static DigitsData load() {
    InputStream in = DigitsData.class.getClassLoader().getResourceAsStream(RESOURCE);
    if (in == null) {
      throw new IllegalStateException(RESOURCE + " is not on the classpath (the train module's build copies it"
          + " from examples/data)");
    }
    try (InputStream gz = new GZIPInputStream(in)) {
      return parse(gz, RESOURCE);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + RESOURCE, e);
    }
  }

  /** Parses the CSV text (not gzipped): one row per line, 64 integers 0..16 then the label 0..9. */
  public static DigitsData parse(InputStream csv, String source) throws IOException {
    List<float[]> rows = new ArrayList<>();
    List<Integer> labels = new ArrayList<>();
    BufferedReader r = new BufferedReader(new InputStreamReader(csv, StandardCharsets.US_ASCII));
    String line;
    int lineNo = 0;
    while ((line = r.readLine()) != null) {
      lineNo++;
      if (line.isBlank()) {
        continue;
      }
      String[] cells = line.strip().split(",");
      if (cells.length != FEATURES + 1) {
        throw new IOException(source + " line " + lineNo + ": expected " + (FEATURES + 1) + " values, got " + cells.length);
      }
      float[] row = new float[FEATURES];
      for (int j = 0; j < FEATURES; j++) {
        int v = parseInt(cells[j], source, lineNo);
        if (v < 0 || v > MAX_PIXEL) {
          throw new IOException(source + " line " + lineNo + ": pixel " + j + " is " + v + ", not in 0.." + MAX_PIXEL);
        }
        row[j] = v / (float) MAX_PIXEL;
      }
      int label = parseInt(cells[FEATURES], source, lineNo);
      if (label < 0 || label >= CLASSES) {
        throw new IOException(source + " line " + lineNo + ": label " + label + " is not in 0.." + (CLASSES - 1));
      }
      rows.add(row);
      labels.add(label);
    }
    if (rows.isEmpty()) {
      throw new IOException(source + " has no rows");
    }
    float[] features = new float[rows.size() * FEATURES];
    int[] y = new int[rows.size()];
    for (int i = 0; i < rows.size(); i++) {
      System.arraycopy(rows.get(i), 0, features, i * FEATURES, FEATURES);
      y[i] = labels.get(i);
    }
    return new DigitsData(features, y);
  }

  private static int parseInt(String cell, String source, int lineNo) throws IOException {
    try {
      return Integer.parseInt(cell.strip());
    } catch (NumberFormatException e) {
      throw new IOException(source + " line " + lineNo + ": '" + cell + "' is not an integer", e);
    }
  }

  public int size() {
    return labels.length;
  }

  /** A copy of all labels. */
  public int[] labels() {
    return labels.clone();
  }

  public int label(int row) {
    return labels[row];
  }

  /** The scaled features of {@code rows}, row-major ({@code rows.length·64} values). */
  public float[] features(int[] rows) {
    float[] out = new float[rows.length * FEATURES];
    for (int i = 0; i < rows.length; i++) {
      System.arraycopy(features, rows[i] * FEATURES, out, i * FEATURES, FEATURES);
    }
    return out;
  }

  /** The labels of {@code rows}. */
  public int[] labels(int[] rows) {
    int[] out = new int[rows.length];
    for (int i = 0; i < rows.length; i++) {
      out[i] = labels[rows[i]];
    }
    return out;
  }
}
