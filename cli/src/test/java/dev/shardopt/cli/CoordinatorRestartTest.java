package dev.shardopt.cli;

import static dev.shardopt.client.Initializers.uniform;
import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.client.ModelOptions;
import dev.shardopt.client.RemoteModel;
import dev.shardopt.client.Shardopt;
import dev.shardopt.client.ShardoptCluster;
import dev.shardopt.client.Tensors;
import dev.shardopt.client.Trainer;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.engine.InitialValues;
import dev.shardopt.engine.LocalOptimizer;
import dev.shardopt.engine.TensorShape;
import dev.shardopt.engine.kernel.ParallelApply;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A coordinator with --state-dir and two worker processes; two SYNC trainers (threads here, through
 * the Java client) train 30 steps of adam + clipNorm while the coordinator is killed (kill -9) after
 * step 10 and restarted on the same port and dir: training finishes without the trainers doing
 * anything, bitwise where the in-process optimizer ends (no push lost or applied twice).
 */
class CoordinatorRestartTest {
  private static final int STEPS = 30;
  private static final int KILL_AFTER = 10;
  private static final int TRAINERS = 2;
  private final ClusterProcesses processes = new ClusterProcesses("256m");
  private final List<String> log = new ArrayList<>();

  @TempDir
  Path state;

  @AfterEach
  void killAll() throws InterruptedException {
    processes.close();
  }

  /** Starts a coordinator on {@code port} and answers its address; it is then {@code processes.last()}. */
  private String coordinator(String port) throws Exception {
    return processes.start(log, "coordinator", "--port", port, "--heartbeat-ms", "100", "--state-dir", state.toString());
  }

  @Test
  void trainingContinuesBitwiseAcrossAKilledAndRestartedCoordinator() throws Exception {
    String address = coordinator("0");
    Process first = processes.last();
    String port = address.substring(address.lastIndexOf(':') + 1);
    synchronized (log) {
      assertThat(log).anyMatch(l -> l.contains("shardopt coordinator serving on " + address + "; state in " + state));
    }
    processes.start(log, "worker", "--port", "0", "--coordinator", address, "--threads", "1");
    processes.start(log, "worker", "--port", "0", "--coordinator", address, "--threads", "1");

    Pipeline pipeline = Pipeline.parse("adam(1e-2).clipNorm(1.0)");
    int n = 2 * 8192 + 5;
    Random rnd = new Random(11);
    float[][][] grads = new float[STEPS][TRAINERS][n];
    for (float[][] push : grads) {
      for (float[] g : push) {
        for (int i = 0; i < n; i++) {
          g[i] = (float) rnd.nextGaussian();
        }
      }
    }
    ExecutorService pool = Executors.newFixedThreadPool(TRAINERS);
    try (ShardoptCluster cluster = Shardopt.connect(address)) {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (cluster.status().getWorkersCount() < 2 && System.nanoTime() < deadline) {
        Thread.sleep(50);
      }
      RemoteModel model = cluster.createModel(ModelOptions.named("restart").pipeline(pipeline).trainers(TRAINERS)
          .tensors(Tensors.of("w", n).init(uniform(-1, 1, 3))));
      assertThat(model.shardMap().getShardsList()).extracting(s -> s.getWorker()).containsExactly("workers/w1", "workers/w2");

      CountDownLatch pastKillStep = new CountDownLatch(1);
      List<Future<?>> trainers = new ArrayList<>();
      for (int r = 0; r < TRAINERS; r++) {
        Trainer t = model.trainer(r, TRAINERS);
        int rank = r;
        trainers.add(pool.submit(() -> {
          for (int s = 0; s < STEPS; s++) {
            t.push(s, Map.of("w", grads[s][rank]));
            if (s == KILL_AFTER) {
              pastKillStep.countDown();
            }
            t.pull(s + 1);
          }
          return null;
        }));
      }
      assertThat(pastKillStep.await(60, TimeUnit.SECONDS)).as("step %d pushed", KILL_AFTER).isTrue();
      first.destroyForcibly();
      assertThat(first.waitFor(10, TimeUnit.SECONDS)).isTrue();
      coordinator(port);
      for (Future<?> f : trainers) {
        f.get(120, TimeUnit.SECONDS);
      }
      float[] remote = model.pull(STEPS).get("w");
      assertThat(model.describe().getUpdatesApplied()).isEqualTo(STEPS);

      float[] init = new float[n];
      InitialValues.fill(uniform(-1, 1, 3), 0, init);
      Map<TensorShape, float[]> local = new LinkedHashMap<>();
      local.put(new TensorShape("w", new long[] {n}), init);
      LocalOptimizer opt = new LocalOptimizer(pipeline, local, TRAINERS, new ParallelApply(pool, 1));
      for (float[][] push : grads) {
        opt.push(List.of(Map.of("w", push[0]), Map.of("w", push[1])));
      }
      assertThat(remote).isEqualTo(opt.parameter("w"));
      assertThat(remote).isNotEqualTo(init);
    } finally {
      pool.shutdownNow();
    }
    synchronized (log) {
      assertThat(String.join("\n", log)).doesNotContain("registered again as").doesNotContain("Exception in thread");
    }
  }

  @Test
  void aCorruptStateDirStopsTheStartWithOneLineNamingTheFile() throws Exception {
    Path file = state.resolve("workers.state");
    Files.write(file, "garbage".getBytes(StandardCharsets.UTF_8));
    StringWriter err = new StringWriter();
    int status = ShardoptCli.run(new PrintWriter(new StringWriter()), new PrintWriter(err),
        "coordinator", "--port", "0", "--state-dir", state.toString());
    assertThat(status).isEqualTo(ShardoptCli.EXIT_USER_ERROR);
    assertThat(err.toString().strip()).isEqualTo("shardopt: coordinator state file " + file + " is corrupt: it is not a"
        + " Shardopt coordinator state file (bad header); restore it, or start with an empty --state-dir (every model is lost)");
  }
}
