package dev.shardopt.cli;

import static dev.shardopt.client.Initializers.uniform;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.shardopt.client.ModelOptions;
import dev.shardopt.client.RemoteModel;
import dev.shardopt.client.Shardopt;
import dev.shardopt.client.ShardoptCluster;
import dev.shardopt.client.ShardoptException;
import dev.shardopt.client.Tensors;
import dev.shardopt.client.Trainer;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.engine.LocalOptimizer;
import dev.shardopt.engine.TensorShape;
import dev.shardopt.engine.kernel.ParallelApply;
import dev.shardopt.engine.InitialValues;
import io.grpc.Status;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A coordinator and two workers, each its own JVM started from this test, on loopback ports:
 * 3 synchronous trainers train through them and end bitwise where the in-process optimizer ends;
 * status shows the cluster; SIGTERM stops every process; a killed worker fails pushes with UNAVAILABLE.
 */
class MultiProcessClusterTest {
  private final ShardoptProcesses launched = new ShardoptProcesses();
  private final List<Process> processes = launched.processes;

  @AfterEach
  void killAll() throws InterruptedException {
    launched.killAll();
  }

  /** Starts {@code shardopt ARGS} in a new JVM and returns its address once it logs it. */
  private String start(List<String> output, String... args) throws Exception {
    return launched.start(output, args).address();
  }

  @Test
  void threeTrainersOverTwoWorkerProcessesMatchTheLocalOptimizerBitwise() throws Exception {
    List<String> coordinatorLog = new ArrayList<>();
    List<String> workerLog = new ArrayList<>();
    String coordinator = start(coordinatorLog, "coordinator", "--port", "0", "--heartbeat-ms", "100");
    start(workerLog, "worker", "--port", "0", "--coordinator", coordinator, "--threads", "1");
    start(workerLog, "worker", "--port", "0", "--coordinator", coordinator, "--threads", "1");
    assertThat(coordinatorLog.get(coordinatorLog.size() - 1)).contains("shardopt coordinator serving on " + coordinator);

    Pipeline pipeline = Pipeline.parse("nesterov(0.05).beta(0.8).clipNorm(2.0).weightDecay(1e-3)");
    int n = 3 * 8192 + 17;
    int trainers = 3;
    int steps = 5;
    Random rnd = new Random(5);
    float[][][] grads = new float[steps][trainers][n];
    for (float[][] push : grads) {
      for (float[] g : push) {
        for (int i = 0; i < n; i++) {
          g[i] = (float) rnd.nextGaussian();
        }
      }
    }
    float[] init = new float[n];
    InitialValues.fill(uniform(-1, 1, 9), 0, init);
    ExecutorService pool = Executors.newFixedThreadPool(trainers);
    try (ShardoptCluster cluster = Shardopt.connect(coordinator)) {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (cluster.status().getWorkersCount() < 2 && System.nanoTime() < deadline) {
        Thread.sleep(50);
      }
      RemoteModel model = cluster.createModel(ModelOptions.named("mp").pipeline(pipeline).trainers(trainers)
          .tensors(Tensors.of("w", n).init(uniform(-1, 1, 9))));
      assertThat(model.shardMap().getShardsList()).extracting(s -> s.getWorker()).containsExactly("workers/w1", "workers/w2");
      for (int s = 0; s < steps; s++) {
        List<Future<?>> pushes = new ArrayList<>();
        for (int r = 0; r < trainers; r++) {
          Trainer t = model.trainer(r, trainers);
          float[] g = grads[s][r];
          int step = s;
          pushes.add(pool.submit(() -> t.push(step, Map.of("w", g))));
        }
        for (Future<?> f : pushes) {
          f.get(30, TimeUnit.SECONDS);
        }
      }
      float[] remote = model.pull(steps).get("w");

      Map<TensorShape, float[]> local = new LinkedHashMap<>();
      local.put(new TensorShape("w", new long[] {n}), init);
      LocalOptimizer opt = new LocalOptimizer(pipeline, local, trainers, new ParallelApply(pool, 1));
      for (float[][] push : grads) {
        List<Map<String, float[]>> byTrainer = new ArrayList<>();
        for (float[] g : push) {
          byTrainer.add(Map.of("w", g));
        }
        opt.push(byTrainer);
      }
      assertThat(remote).isEqualTo(opt.parameter("w"));
      assertThat(remote).isNotEqualTo(init);

      StringWriter out = new StringWriter();
      int status = ShardoptCli.run(new PrintWriter(out), new PrintWriter(new StringWriter()),
          "status", "--coordinator", coordinator);
      assertThat(status).isZero();
      assertThat(out.toString()).contains("2 workers, 1 models", "workers/w1", "workers/w2", "healthy", "models/mp",
          "nesterov(0.05).beta(0.8).clipNorm(2.0).weightDecay(1e-3)");

      // a worker process killed outright: the next push cannot reach it
      processes.get(2).destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      assertThatThrownBy(() -> model.trainer(0, trainers).push(steps, Map.of("w", new float[n])))
          .isInstanceOfSatisfying(ShardoptException.class, e -> assertThat(e.code()).isEqualTo(Status.Code.UNAVAILABLE));
    } finally {
      pool.shutdownNow();
    }
    // SIGTERM stops the coordinator and the surviving worker cleanly
    for (Process p : List.of(processes.get(0), processes.get(1))) {
      p.destroy();
      assertThat(p.waitFor(15, TimeUnit.SECONDS)).as("exits on SIGTERM").isTrue();
    }
    synchronized (workerLog) {
      assertThat(String.join("\n", workerLog)).contains("shardopt worker workers/w1 serving on")
          .doesNotContain("Exception in thread");
    }
  }
}
