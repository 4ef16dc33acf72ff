package dev.shardopt.examples;

import dev.shardopt.client.ClientOptions;
import dev.shardopt.client.ModelOptions;
import dev.shardopt.client.PulledParameters;
import dev.shardopt.client.RemoteModel;
import dev.shardopt.client.Shardopt;
import dev.shardopt.client.ShardoptCluster;
import dev.shardopt.client.ShardoptException;
import dev.shardopt.client.Tensors;
import dev.shardopt.client.Trainer;
import dev.shardopt.dsl.Pipeline;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.zip.GZIPInputStream;

/**
 * Softmax regression on the digits data, trained on a Shardopt cluster with the Java client by
 * two trainers (threads of this process), following the language-neutral recipe that
 * {@code examples/python/digits_recipe.py} documents and {@code examples/node/digits_recipe.js}
 * repeats operation for operation: the same float64 arithmetic in the same order, the gradient
 * then cast to float32 ({@link StrictMath#exp} is fdlibm's, as Node's {@code Math.exp}).
 *
 * <pre>
 * java -cp ... dev.shardopt.examples.SoftmaxTrainer --coordinator 127.0.0.1:7070 \
 *     --model digits-java --out /tmp/params-java.json
 * </pre>
 *
 * <p>Creates the model (SYNC, 2 trainers, W [64, 10] and b [10] zeros, pipeline {@code
 * adam(0.05)}), trains {@value #STEPS} steps, pulls the final parameters, prints the test accuracy and
 * writes the parameters as JSON ({@code {"language", "model", "step", "accuracy", "tensors"}}).
 */
public final class SoftmaxTrainer {
  /** The same DSL text the Python and Node trainers send as Model.pipeline_text. */
  static final String PIPELINE_TEXT = "adam(0.05)";
  static final int FEATURES = 64;
  static final int CLASSES = 10;
  static final int BATCH = 50;
  static final int TRAINERS = 2;
  static final int STEPS = 150;

  private SoftmaxTrainer() {}

  /** The digits split: x scaled by 1/16, rows with index % 5 == 0 are test rows. */
  record Digits(double[][] xTrain, int[] yTrain, double[][] xTest, int[] yTest) {
    static Digits load(Path file) {
      List<double[]> xTrain = new ArrayList<>();
      List<double[]> xTest = new ArrayList<>();
      List<Integer> yTrain = new ArrayList<>();
      List<Integer> yTest = new ArrayList<>();
      try (BufferedReader in = new BufferedReader(new InputStreamReader(
          new GZIPInputStream(Files.newInputStream(file)), StandardCharsets.UTF_8))) {
        int i = 0;
        for (String line = in.readLine(); line != null; line = in.readLine()) {
          if (line.isBlank()) {
            continue;
          }
          String[] cells = line.trim().split(",");
          if (cells.length != FEATURES + 1) {
            throw new IllegalArgumentException(file + ": row " + i + " has " + cells.length
                + " columns, expected " + (FEATURES + 1));
          }
          double[] x = new double[FEATURES];
          for (int k = 0; k < FEATURES; k++) {
            x[k] = Integer.parseInt(cells[k]) / 16.0;
          }
          int y = Integer.parseInt(cells[FEATURES]);
          (i % 5 == 0 ? xTest : xTrain).add(x);
          (i % 5 == 0 ? yTest : yTrain).add(y);
          i++;
        }
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read " + file, e);
      }
      return new Digits(xTrain.toArray(double[][]::new), yTrain.stream().mapToInt(v -> v).toArray(),
          xTest.toArray(double[][]::new), yTest.stream().mapToInt(v -> v).toArray());
    }
  }

  /** Indices into the train rows of trainer {@code rank}'s part of step {@code step}'s batch. */
  static int[] trainerRows(long step, int rank, int nTrain) {
    int per = BATCH / TRAINERS;
    int start = (int) ((step * BATCH) % nTrain);
    int[] rows = new int[per];
    for (int j = 0; j < per; j++) {
      rows[j] = (start + rank * per + j) % nTrain;
    }
    return rows;
  }

  /** z of one row in float64 (w row-major [64, 10]). */
  static double[] logits(double[] x, float[] w, float[] b) {
    double[] z = new double[CLASSES];
    for (int j = 0; j < CLASSES; j++) {
      z[j] = b[j];
    }
    for (int k = 0; k < FEATURES; k++) {
      for (int j = 0; j < CLASSES; j++) {
        z[j] += x[k] * w[k * CLASSES + j];
      }
    }
    return z;
  }

  /** The gradient of the mean cross-entropy over {@code rows}, in float64, cast to float32. */
  static Map<String, float[]> gradient(Digits d, int[] rows, float[] w, float[] b) {
    int n = rows.length;
    double[] gw = new double[FEATURES * CLASSES];
    double[] gb = new double[CLASSES];
    for (int row : rows) {
      double[] x = d.xTrain()[row];
      double[] z = logits(x, w, b);
      double m = z[0];
      for (int j = 1; j < CLASSES; j++) {
        if (z[j] > m) {
          m = z[j];
        }
      }
      double[] e = new double[CLASSES];
      for (int j = 0; j < CLASSES; j++) {
        e[j] = StrictMath.exp(z[j] - m);
      }
      double s = e[0];
      for (int j = 1; j < CLASSES; j++) {
        s += e[j];
      }
      double[] dz = new double[CLASSES];
      for (int j = 0; j < CLASSES; j++) {
        dz[j] = (e[j] / s - (j == d.yTrain()[row] ? 1.0 : 0.0)) / n;
      }
      for (int k = 0; k < FEATURES; k++) {
        for (int j = 0; j < CLASSES; j++) {
          gw[k * CLASSES + j] += x[k] * dz[j];
        }
      }
      for (int j = 0; j < CLASSES; j++) {
        gb[j] += dz[j];
      }
    }
    Map<String, float[]> g = new LinkedHashMap<>();
    g.put("W", toFloat(gw));
    g.put("b", toFloat(gb));
    return g;
  }

  static double accuracy(double[][] xs, int[] ys, float[] w, float[] b) {
    int right = 0;
    for (int i = 0; i < xs.length; i++) {
      double[] z = logits(xs[i], w, b);
      int best = 0;
      for (int j = 1; j < CLASSES; j++) {
        if (z[j] > z[best]) {
          best = j;
        }
      }
      if (best == ys[i]) {
        right++;
      }
    }
    return (double) right / xs.length;
  }

  private static float[] toFloat(double[] v) {
    float[] out = new float[v.length];
    for (int i = 0; i < v.length; i++) {
      out[i] = (float) v[i];
    }
    return out;
  }

  /** One trainer's loop: pull the parameters of step s (waits for the others), push its gradient. */
  static void train(Trainer trainer, Digits d, int steps) {
    for (long step = 0; step < steps; step++) {
      PulledParameters p = trainer.pullParameters(step);
      if (p.step() != step) {
        throw new IllegalStateException("pulled version " + p.step() + " for step " + step);
      }
      int[] rows = trainerRows(step, trainer.rank(), d.xTrain().length);
      trainer.push(step, gradient(d, rows, p.get("W"), p.get("b")));
    }
  }

  static String toJson(String model, long step, double accuracy, Map<String, float[]> tensors) {
    StringBuilder sb = new StringBuilder("{\"language\": \"java\", \"model\": \"").append(model)
        .append("\", \"step\": ").append(step).append(", \"accuracy\": ").append(accuracy)
        .append(", \"tensors\": {");
    String sep = "";
    for (Map.Entry<String, float[]> e : tensors.entrySet()) {
      sb.append(sep).append('"').append(e.getKey()).append("\": [");
      float[] v = e.getValue();
      for (int i = 0; i < v.length; i++) {
        if (!Float.isFinite(v[i])) {
          throw new IllegalStateException("tensor " + e.getKey() + "[" + i + "] is " + v[i]);
        }
        sb.append(i == 0 ? "" : ", ").append((double) v[i]); // exact: every float is a double
      }
      sb.append(']');
      sep = ", ";
    }
    return sb.append("}}\n").toString();
  }

  public static void main(String[] args) throws Exception {
    String coordinator = null;
    String modelId = "digits-java";
    String out = null;
    Path data = Path.of("examples", "data", "digits.csv.gz");
    int steps = STEPS;
    boolean keep = false;
    Path tlsCa = null;
    Path tlsCert = null;
    Path tlsKey = null;
    Path tokenFile = null;
    for (int i = 0; i < args.length; i++) {
      String flag = args[i];
      if (flag.equals("--keep")) {
        keep = true;
        continue;
      }
      if (i + 1 >= args.length) {
        usage("unknown argument or missing value: " + flag);
      }
      String value = args[++i];
      switch (flag) {
        case "--coordinator" -> coordinator = value;
        case "--model" -> modelId = value;
        case "--out" -> out = value;
        case "--data" -> data = Path.of(value);
        case "--steps" -> steps = Integer.parseInt(value);
        case "--tls-ca" -> tlsCa = Path.of(value);
        case "--tls-cert" -> tlsCert = Path.of(value);
        case "--tls-key" -> tlsKey = Path.of(value);
        case "--token-file" -> tokenFile = Path.of(value);
        default -> usage("unknown argument " + flag);
      }
    }
    if (coordinator == null) {
      usage("--coordinator HOST:PORT is required");
    }
    ClientOptions options = ClientOptions.defaults();
    if (tlsCa != null || tlsCert != null || tlsKey != null) {
      options = options.tls(tlsCa, tlsCert, tlsKey);
    }
    if (tokenFile != null) { // its first line; otherwise the client takes SHARDOPT_TOKEN
      options = options.token(Files.readAllLines(tokenFile, StandardCharsets.UTF_8).get(0).trim());
    }
    try {
      System.exit(run(coordinator, options, modelId, out, data, steps, keep));
    } catch (ShardoptException e) {
      System.err.println("SoftmaxTrainer: " + e.getMessage());
      System.exit(1);
    }
  }

  static int run(String coordinator, ClientOptions options, String modelId, String out, Path data, int steps, boolean keep)
      throws IOException, InterruptedException {
    long started = System.nanoTime();
    Digits d = Digits.load(data);
    try (ShardoptCluster cluster = Shardopt.connect(coordinator, options)) {
      RemoteModel model = cluster.createModel(ModelOptions.named(modelId)
          .pipeline(Pipeline.parse(PIPELINE_TEXT))
          .trainers(TRAINERS)
          .sync()
          .tensors(Tensors.of("W", FEATURES, CLASSES), Tensors.of("b", CLASSES)));
      System.out.printf("created %s (%d trainers) on %d shard(s); training %d steps on %d rows%n",
          model.name(), model.trainers(), model.shardMap().getShardsCount(), steps, d.xTrain().length);
      ExecutorService pool = Executors.newFixedThreadPool(TRAINERS);
      List<Future<?>> trainers = new ArrayList<>();
      int finalSteps = steps;
      for (int r = 0; r < TRAINERS; r++) {
        Trainer t = model.trainer(r, TRAINERS);
        trainers.add(pool.submit(() -> train(t, d, finalSteps)));
      }
      try {
        for (int r = 0; r < TRAINERS; r++) {
          try {
            trainers.get(r).get(300, TimeUnit.SECONDS);
          } catch (ExecutionException | TimeoutException e) {
            Throwable cause = e instanceof ExecutionException ? e.getCause() : e;
            System.err.println("SoftmaxTrainer: trainer " + r + " failed: " + cause);
            return 1;
          }
        }
      } finally {
        pool.shutdownNow();
      }
      PulledParameters p = model.pullParameters(steps);
      double acc = accuracy(d.xTest(), d.yTest(), p.get("W"), p.get("b"));
      System.out.printf("java: %d steps in %.1f s; test accuracy %.4f%n", p.step(),
          (System.nanoTime() - started) / 1e9, acc);
      if (out != null) {
        Files.writeString(Path.of(out), toJson(model.name(), p.step(), acc, p.tensors()));
      }
      if (!keep) {
        model.delete();
      }
      return 0;
    }
  }

  private static void usage(String problem) {
    System.err.println("SoftmaxTrainer: " + problem + "\nusage: SoftmaxTrainer --coordinator HOST:PORT"
        + " [--model ID] [--steps N] [--out FILE] [--data digits.csv.gz] [--keep]"
        + " [--tls-ca PEM --tls-cert PEM --tls-key PEM] [--token-file FILE]");
    System.exit(2);
  }
}
