package dev.shardopt.bench.cluster;

import static dev.shardopt.bench.cluster.ClusterBenchmark.log;
import static dev.shardopt.client.Initializers.normal;

import dev.shardopt.client.ClientOptions;
import dev.shardopt.client.ModelOptions;
import dev.shardopt.client.RemoteModel;
import dev.shardopt.client.ShardoptCluster;
import dev.shardopt.client.TensorDef;
import dev.shardopt.client.Tensors;
import dev.shardopt.client.Trainer;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.embedded.EmbeddedCluster;
import dev.shardopt.embedded.ShardoptLocal;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * The cost of 2 copies of every shard (issue 9): the SYNC step time of one model with {@code
 * replicas(2)} against the same model with 1 copy, on the same embedded cluster of 3 workers, in the
 * same run. A step is every trainer's pull of the step's version and push of its gradient (the
 * trainers on their own threads), timed from the first pull to the last acknowledgement.
 *
 * <p>Rounds alternate the two models ({@code steps} steps each, order flipped every round) so that a
 * change in the machine's load hits both; the report gives every round's mean step time and the
 * medians, and the bytes each trainer sends per step (its gradient to every copy of every shard).
 *
 * <p>Options ({@code --name=value}): {@code params} (8000000), {@code tensors} (4), {@code trainers}
 * (2), {@code rounds} (5), {@code steps} (5), {@code warmup} (3 steps of each model first).
 */
public final class ReplicationBenchmark {
  private ReplicationBenchmark() {}

  public static void main(String[] args) throws Exception {
    Map<String, String> o = ClusterBenchmark.options(args);
    long params = Long.parseLong(o.getOrDefault("params", "8000000"));
    int tensors = Integer.parseInt(o.getOrDefault("tensors", "4"));
    int trainers = Integer.parseInt(o.getOrDefault("trainers", "2"));
    int rounds = Integer.parseInt(o.getOrDefault("rounds", "5"));
    int steps = Integer.parseInt(o.getOrDefault("steps", "5"));
    int warmup = Integer.parseInt(o.getOrDefault("warmup", "3"));
    if (params < tensors || rounds < 1 || steps < 1 || trainers < 1) {
      throw new IllegalArgumentException("params >= tensors, rounds, steps and trainers >= 1");
    }
    String loadBefore = ClusterBenchmark.Environment.load();
    List<TensorDef> defs = new ArrayList<>();
    for (int t = 0; t < tensors; t++) {
      defs.add(Tensors.of("t" + t, params / tensors).init(normal(0.02, t)));
    }
    Pipeline pipeline = Pipeline.parse("adam(0.001)");
    ExecutorService threads = Executors.newFixedThreadPool(trainers);
    try (ShardoptCluster cluster = ShardoptLocal.start(EmbeddedCluster.builder().workers(3), ClientOptions.defaults())) {
      RemoteModel[] models = new RemoteModel[2];
      for (int r = 1; r <= 2; r++) {
        models[r - 1] = cluster.createModel(ModelOptions.named("r" + r).pipeline(pipeline).trainers(trainers)
            .replicas(r).tensors(defs));
      }
      List<Map<String, float[]>> grads = gradients(defs, trainers, params / tensors);
      long[] next = new long[2];
      for (int m = 0; m < 2; m++) {
        for (int s = 0; s < warmup; s++) {
          step(models[m], trainers, next[m]++, grads, threads);
        }
      }
      double[][] meanMs = new double[2][rounds];
      for (int round = 0; round < rounds; round++) {
        for (int i = 0; i < 2; i++) {
          int m = round % 2 == 0 ? i : 1 - i;
          long t0 = System.nanoTime();
          for (int s = 0; s < steps; s++) {
            step(models[m], trainers, next[m]++, grads, threads);
          }
          meanMs[m][round] = (System.nanoTime() - t0) / 1e6 / steps;
        }
        log(String.format(Locale.ROOT, "round %d: 1 copy %.1f ms/step, 2 copies %.1f ms/step (%.2fx)", round + 1,
            meanMs[0][round], meanMs[1][round], meanMs[1][round] / meanMs[0][round]));
      }
      long bytes = params * Float.BYTES;
      System.out.printf(Locale.ROOT, "Step time of a %,d-parameter adam(0.001) model, %d trainers, on 3 embedded"
          + " workers: 1 copy against 2 copies of every shard; %d rounds of %d steps each, alternating%n%n", params,
          trainers, rounds, steps);
      System.out.println("| Round | 1 copy (ms/step) | 2 copies (ms/step) | 2 ÷ 1 |");
      System.out.println("|---|---:|---:|---:|");
      double[] ratios = new double[rounds];
      for (int r = 0; r < rounds; r++) {
        ratios[r] = meanMs[1][r] / meanMs[0][r];
        System.out.printf(Locale.ROOT, "| %d | %.1f | %.1f | %.2f |%n", r + 1, meanMs[0][r], meanMs[1][r], ratios[r]);
      }
      System.out.printf(Locale.ROOT, "%nMedians: 1 copy %.1f ms/step, 2 copies %.1f ms/step; median of the round ratios"
          + " %.2fx. Each trainer sends %,d bytes per step with 1 copy and %,d with 2 (its gradient to every copy).%n",
          median(meanMs[0]), median(meanMs[1]), median(ratios), bytes, 2 * bytes);
      System.out.println("Load average before: " + loadBefore + "; after: " + ClusterBenchmark.Environment.load() + ".");
      System.out.println(ClusterBenchmark.Environment.describe());
    } finally {
      threads.shutdownNow();
    }
  }

  private static List<Map<String, float[]>> gradients(List<TensorDef> defs, int trainers, long perTensor) {
    Random rnd = new Random(1);
    List<Map<String, float[]>> out = new ArrayList<>();
    for (int r = 0; r < trainers; r++) {
      Map<String, float[]> g = new LinkedHashMap<>();
      for (TensorDef d : defs) {
        float[] v = new float[Math.toIntExact(perTensor)];
        for (int i = 0; i < v.length; i++) {
          v[i] = (float) (1e-3 * rnd.nextGaussian());
        }
        g.put(d.name(), v);
      }
      out.add(g);
    }
    return out;
  }

  /** One SYNC step: every trainer pulls the step's version, then pushes its gradient. */
  private static void step(RemoteModel model, int trainers, long step, List<Map<String, float[]>> grads,
      ExecutorService threads) throws Exception {
    List<Future<?>> done = new ArrayList<>();
    for (int r = 0; r < trainers; r++) {
      Trainer t = model.trainer(r, trainers).startingAt(step);
      Map<String, float[]> g = grads.get(r);
      done.add(threads.submit(() -> {
        t.pull();
        return t.push(step, g);
      }));
    }
    for (Future<?> f : done) {
      f.get(5, TimeUnit.MINUTES);
    }
  }

  private static double median(double[] v) {
    double[] s = v.clone();
    java.util.Arrays.sort(s);
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }
}
