package dev.shardopt.cli;

import static dev.shardopt.client.Initializers.uniform;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.shardopt.client.CheckpointInfo;
import dev.shardopt.client.ModelOptions;
import dev.shardopt.client.PushResult;
import dev.shardopt.client.RemoteModel;
import dev.shardopt.client.Shardopt;
import dev.shardopt.client.ShardoptCluster;
import dev.shardopt.client.Tensors;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.v1.Shard;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A coordinator and two workers, each its own JVM with {@code --metrics-port 0}: two SYNC trainers
 * train a few steps (two of them with a NaN pushed, two pushes sent again), the model is pulled and
 * checkpointed, and each process's {@code /metrics}, parsed by Prometheus' own parser in both the
 * text format and OpenMetrics, holds exactly what was done.
 */
class MetricsProcessesTest {
  private static final Pattern METRICS = Pattern.compile("metrics on (http://127\\.0\\.0\\.1:\\d+/metrics)");
  private final ClusterProcesses processes = new ClusterProcesses("256m");

  @TempDir Path checkpoints;

  @AfterEach
  void killAll() throws InterruptedException {
    processes.close();
  }

  @Test
  void everyProcessServesWhatTheRunDid() throws Exception {
    List<String> coordinatorLog = new ArrayList<>();
    List<List<String>> workerLogs = List.of(new ArrayList<>(), new ArrayList<>());
    String coordinator = processes.start(coordinatorLog, "coordinator", "--port", "0", "--heartbeat-ms", "100",
        "--metrics-port", "0");
    String coordinatorMetrics = metricsUrl(coordinatorLog);
    for (List<String> log : workerLogs) {
      processes.start(log, "worker", "--port", "0", "--coordinator", coordinator, "--threads", "1", "--metrics-port", "0");
    }
    Map<String, String> workerMetrics = new TreeMap<>(); // worker name -> its endpoint
    workerMetrics.put("workers/w1", metricsUrl(workerLogs.get(0)));
    workerMetrics.put("workers/w2", metricsUrl(workerLogs.get(1)));

    int trainers = 2;
    int steps = 6;
    List<Integer> nanSteps = List.of(1, 4);
    double clip = 0.5;
    Pipeline pipeline = Pipeline.parse("adam(0.01).clipNorm(" + clip + ").skipNonFinite()");
    int na = 3 * 8192 + 17;
    int nb = 2 * 8192 + 5;
    Random rnd = new Random(12);
    float[][][] a = new float[steps][trainers][na];
    float[][][] b = new float[steps][trainers][nb];
    for (int s = 0; s < steps; s++) {
      for (int r = 0; r < trainers; r++) {
        fill(rnd, a[s][r]);
        fill(rnd, b[s][r]);
      }
    }
    for (int s : nanSteps) {
      b[s][1][7] = Float.NaN;
    }
    String model = "models/m";
    ExecutorService pool = Executors.newFixedThreadPool(trainers);
    try (ShardoptCluster cluster = Shardopt.connect(coordinator)) {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (cluster.status().getWorkersCount() < 2 && System.nanoTime() < deadline) {
        Thread.sleep(50);
      }
      RemoteModel m = cluster.createModel(ModelOptions.named("m").pipeline(pipeline).trainers(trainers)
          .tensors(Tensors.of("a", na).init(uniform(-1, 1, 3)), Tensors.of("b", nb).init(uniform(-1, 1, 4))));
      Map<String, Long> elements = new TreeMap<>(); // worker -> elements it holds
      for (Shard s : m.shardMap().getShardsList()) {
        elements.merge(s.getWorker(), s.getLength(), Long::sum);
      }
      assertThat(elements).containsOnlyKeys("workers/w1", "workers/w2");
      assertThat(elements.values().stream().mapToLong(Long::longValue).sum()).isEqualTo(na + nb);

      for (int s = 0; s < steps; s++) {
        List<Future<PushResult>> pushes = new ArrayList<>();
        for (int r = 0; r < trainers; r++) {
          int step = s;
          int rank = r;
          pushes.add(pool.submit(() -> m.trainer(rank, trainers).push(step, Map.of("a", a[step][rank], "b", b[step][rank]))));
        }
        for (Future<PushResult> f : pushes) {
          assertThat(f.get(30, TimeUnit.SECONDS).duplicate()).isFalse();
        }
      }
      // Two pushes sent again, as a trainer that lost the answers would: every worker acknowledges each as a duplicate.
      int[][] resent = {{0, 2}, {1, 5}}; // {rank, step}
      for (int[] p : resent) {
        assertThat(m.trainer(p[0], trainers).push(p[1], Map.of("a", a[p[1]][p[0]], "b", b[p[1]][p[0]])).duplicate())
            .isTrue();
      }
      m.pull(steps);
      CheckpointInfo checkpoint = m.checkpoint(checkpoints);
      assertThat(checkpoint.step()).isEqualTo(steps);

      // The coordinator: the steps it decided, the skipped ones, the last step's norms and learning rate.
      for (String format : List.of("text", "openmetrics")) {
        MetricsScrape c = MetricsScrape.of(coordinatorMetrics, format);
        Map<String, String> byModel = Map.of("model", model);
        assertThat(c.types()).containsEntry("shardopt_steps_decided", "counter")
            .containsEntry("shardopt_step_duration_seconds", "histogram").containsEntry("shardopt_learning_rate", "gauge");
        assertThat(c.value("shardopt_steps_decided_total", byModel)).isEqualTo(steps);
        assertThat(c.value("shardopt_steps_skipped_total", byModel)).isEqualTo(nanSteps.size());
        assertThat(c.value("shardopt_step_duration_seconds_count", byModel)).isEqualTo(steps);
        assertThat(c.value("shardopt_barrier_wait_seconds_count", byModel)).isEqualTo(steps);
        assertThat(c.value("shardopt_step_duration_seconds_sum", byModel))
            .isGreaterThanOrEqualTo(c.value("shardopt_barrier_wait_seconds_sum", byModel)).isGreaterThan(0);
        // Step 5 applied: the global norm of the trainers' mean gradient, clipped to the limit; adam's constant rate.
        double norm = meanNorm(a[steps - 1], b[steps - 1]);
        assertThat(norm).isGreaterThan(10 * clip);
        assertThat(c.value("shardopt_gradient_norm", byModel)).isCloseTo(norm, within(norm * 1e-9));
        assertThat(c.value("shardopt_clipped_gradient_norm", byModel)).isCloseTo(clip, within(clip * 1e-6));
        assertThat(c.value("shardopt_learning_rate", byModel)).isEqualTo(0.01);
        // One checkpoint: parameters and adam's two moments, float32 each.
        assertThat(c.value("shardopt_checkpoint_duration_seconds_count", byModel)).isEqualTo(1);
        assertThat(c.value("shardopt_checkpoint_bytes_total", byModel)).isEqualTo(4.0 * 3 * (na + nb));
        assertThat(c.types()).containsKey("jvm_memory_used_bytes");
      }

      // Each worker: every push it acknowledged (the re-sent ones as duplicates), its bytes, one pull, its checkpoint part.
      for (Map.Entry<String, String> w : workerMetrics.entrySet()) {
        MetricsScrape s = MetricsScrape.of(w.getValue(), "text");
        Map<String, String> labels = Map.of("model", model, "worker", w.getKey());
        long held = elements.get(w.getKey());
        int pushes = trainers * steps + resent.length;
        assertThat(s.value("shardopt_push_duration_seconds_count", labels)).isEqualTo(pushes);
        assertThat(s.value("shardopt_push_bytes_total", labels)).isEqualTo(4.0 * held * pushes);
        assertThat(s.value("shardopt_push_duplicates_total", labels)).isEqualTo(resent.length);
        assertThat(s.value("shardopt_pull_duration_seconds_count", labels)).isEqualTo(1);
        assertThat(s.value("shardopt_pull_bytes_total", labels)).isEqualTo(4.0 * held);
        assertThat(s.value("shardopt_shard_copy_duration_seconds_count", labels)).isEqualTo(1);
        assertThat(s.value("shardopt_shard_persist_duration_seconds_count", labels)).isEqualTo(1);
        assertThat(s.value("shardopt_shard_checkpoint_bytes_total", labels)).isEqualTo(4.0 * 3 * held);
        // a histogram's buckets are cumulative and end at +Inf with its count
        assertThat(s.value("shardopt_push_duration_seconds_bucket", withLe(labels, "+Inf"))).isEqualTo(pushes);
        assertThat(s.types()).containsKey("jvm_threads_current");
      }

      // A deleted model's series go.
      m.delete();
      MetricsScrape after = MetricsScrape.of(coordinatorMetrics, "text");
      assertThat(after.samples("shardopt_steps_decided_total", Map.of("model", model))).isEmpty();
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void aBadMetricsPortExitsTwoWithOneLine() throws Exception {
    try (java.net.ServerSocket taken = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      int inUse = taken.getLocalPort();
      for (String[] args : List.of(
          new String[] {"coordinator", "--port", "0", "--metrics-port", "-1"},
          new String[] {"coordinator", "--port", "0", "--metrics-port", "65536"},
          new String[] {"coordinator", "--port", "0", "--metrics-port", String.valueOf(inUse)},
          new String[] {"worker", "--coordinator", "127.0.0.1:1", "--metrics-port", "70000"},
          new String[] {"worker", "--coordinator", "127.0.0.1:1", "--metrics-port", String.valueOf(inUse)})) {
        java.io.StringWriter err = new java.io.StringWriter();
        int code = ShardoptCli.run(new java.io.PrintWriter(new java.io.StringWriter()), new java.io.PrintWriter(err), args);
        assertThat(code).as(String.join(" ", args)).isEqualTo(ShardoptCli.EXIT_USER_ERROR);
        String port = args[args.length - 1];
        assertThat(err.toString().strip()).as(String.join(" ", args)).doesNotContain("\n").startsWith("shardopt: ")
            .contains(port.equals(String.valueOf(inUse))
                ? "cannot serve metrics on 127.0.0.1:" + inUse
                : "--metrics-port must be in [0, 65535], got " + port);
      }
    }
  }

  private static Map<String, String> withLe(Map<String, String> labels, String le) {
    Map<String, String> out = new TreeMap<>(labels);
    out.put("le", le);
    return out;
  }

  /** The rule's norm: each element of the trainers' mean is (g0 + g1) / 2 in float32; the norm sums their squares in double. */
  private static double meanNorm(float[][] a, float[][] b) {
    double sum = 0;
    for (float[][] t : List.of(a, b)) {
      for (int i = 0; i < t[0].length; i++) {
        float mean = (t[0][i] + t[1][i]) / 2f;
        sum += (double) mean * mean;
      }
    }
    return Math.sqrt(sum);
  }

  private static void fill(Random rnd, float[] g) {
    for (int i = 0; i < g.length; i++) {
      g[i] = (float) rnd.nextGaussian();
    }
  }

  /** The endpoint a process logged ("metrics on http://..."), waiting for the line. */
  private static String metricsUrl(List<String> log) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (System.nanoTime() < deadline) {
      synchronized (log) {
        for (String line : log) {
          Matcher mm = METRICS.matcher(line);
          if (mm.find()) {
            return mm.group(1);
          }
        }
      }
      Thread.sleep(20);
    }
    synchronized (log) {
      throw new AssertionError("no 'metrics on' line in " + log);
    }
  }
}
