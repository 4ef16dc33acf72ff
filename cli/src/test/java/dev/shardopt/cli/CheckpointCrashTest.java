package dev.shardopt.cli;

import static dev.shardopt.client.Initializers.normal;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.shardopt.checkpoint.CheckpointReader;
import dev.shardopt.client.CheckpointInfo;
import dev.shardopt.client.ClientOptions;
import dev.shardopt.client.ModelOptions;
import dev.shardopt.client.RemoteModel;
import dev.shardopt.client.Shardopt;
import dev.shardopt.client.ShardoptCluster;
import dev.shardopt.client.ShardoptException;
import dev.shardopt.client.Tensors;
import dev.shardopt.client.Trainer;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.v1.WorkerStatus;
import io.grpc.Status;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Crash during a checkpoint (issue 8, section 4), with a coordinator and two worker processes: a
 * worker killed with SIGKILL while it writes its shards fails the checkpoint with UNAVAILABLE
 * naming it; the attempt is never taken for a checkpoint and the previous one stays the latest.
 * Training cannot go on (the dead worker's shards are gone: the next push fails with UNAVAILABLE
 * naming it), and what the user does then, restoring the previous checkpoint on the surviving
 * worker and a new one, continues bitwise as the run that was interrupted.
 */
class CheckpointCrashTest {
  /** 2 x 8M elements: 192 MiB of parameters and Adam state to write, so a write takes a moment. */
  private static final int N = 8 << 20;
  private static final String[] NAMES = {"w0", "w1"};
  private static final Pipeline PIPELINE = Pipeline.parse("adam(0.001).clipNorm(5.0)");
  private static final long PREVIOUS = 1;
  private static final long CRASHED = 3;

  @TempDir Path dir;

  @Test
  void aWorkerKilledWhileWritingFailsTheCheckpointLeavesThePreviousOneLatestAndARestoreContinuesBitwise()
      throws Exception {
    List<String> log = new ArrayList<>();
    ExecutorService background = Executors.newSingleThreadExecutor();
    try (ClusterProcesses processes = new ClusterProcesses("1g")) {
      String coordinator = processes.start(log, "coordinator", "--port", "0", "--heartbeat-ms", "100");
      processes.start(log, "worker", "--port", "0", "--coordinator", coordinator, "--threads", "1");
      String doomed = processes.start(log, "worker", "--port", "0", "--coordinator", coordinator, "--threads", "1");
      ClientOptions options = ClientOptions.defaults().rpcDeadline(Duration.ofSeconds(30))
          .checkpointDeadline(Duration.ofSeconds(60)).pushAttempts(2).retryBackoff(Duration.ofMillis(50));
      try (ShardoptCluster cluster = Shardopt.connect(coordinator, options)) {
        await(() -> healthy(cluster).size() == 2, "2 healthy workers");
        RemoteModel model = cluster.createModel(ModelOptions.named("crash").pipeline(PIPELINE)
            .tensors(Tensors.of(NAMES[0], N).init(normal(0.1, 1)), Tensors.of(NAMES[1], N).init(normal(0.1, 2))));
        assertThat(model.shardMap().getShardsList()).extracting(s -> s.getAddress()).contains(doomed);
        Trainer trainer = model.trainer(0, 1);
        Map<Long, String> digests = new LinkedHashMap<>();
        train(model, trainer, 0, PREVIOUS, digests);
        CheckpointInfo previous = model.checkpoint(dir, PREVIOUS);
        assertThat(previous.bytes()).isEqualTo(3L * 4 * 2 * N);
        train(model, trainer, PREVIOUS, CRASHED, digests);

        // the checkpoint of step 3: kill the worker once the writes into the attempt have begun
        Future<CheckpointInfo> crashed = background.submit(() -> model.checkpoint(dir, CRASHED));
        Path attempt = awaitWritesInto(dir, "step-" + String.format("%010d", CRASHED) + ".partial-", crashed);
        processes.get(2).destroyForcibly().waitFor(10, TimeUnit.SECONDS);

        ExecutionException failure = null;
        try {
          crashed.get(60, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
          failure = e;
        }
        assertThat(failure).as("the checkpoint fails once a worker is killed writing %s", attempt).isNotNull();
        assertThat(failure.getCause()).isInstanceOfSatisfying(ShardoptException.class, e -> {
          assertThat(e.code()).as(e.getMessage()).isEqualTo(Status.Code.UNAVAILABLE);
          assertThat(e.getMessage()).contains("models/crash", "step " + CRASHED, doomed);
        });

        // the attempt never looks complete: no step-3, and the latest complete checkpoint is step 1
        try (Stream<Path> s = Files.list(dir)) {
          assertThat(s.map(p -> p.getFileName().toString()))
              .doesNotContain("step-" + String.format("%010d", CRASHED))
              .allMatch(n -> n.equals("step-0000000001") || n.contains(".partial-"));
        }
        try (CheckpointReader latest = CheckpointReader.open(dir)) {
          assertThat(latest.step()).isEqualTo(PREVIOUS);
          assertThat(latest.dir().toString()).isEqualTo(previous.path());
          latest.verify();
        }

        // training: the dead worker's shards are gone, the next push fails naming it
        assertThatThrownBy(() -> trainer.push(CRASHED, gradient(CRASHED)))
            .isInstanceOfSatisfying(ShardoptException.class, e -> {
              assertThat(e.code()).as(e.getMessage()).isEqualTo(Status.Code.UNAVAILABLE);
              assertThat(e.getMessage()).contains(doomed);
            });

        // the way on: restore the previous checkpoint on the surviving worker and a new one
        String fresh = processes.start(log, "worker", "--port", "0", "--coordinator", coordinator, "--threads", "1");
        await(() -> healthy(cluster).size() == 2 && !healthy(cluster).contains(doomed),
            "the killed worker unhealthy and the new one healthy");
        RemoteModel resumed = cluster.restoreModel("resumed", dir);
        assertThat(resumed.startStep()).isEqualTo(PREVIOUS);
        assertThat(resumed.shardMap().getShardsList()).extracting(s -> s.getAddress())
            .doesNotContain(doomed).contains(fresh);
        Map<Long, String> again = new LinkedHashMap<>();
        again.put(PREVIOUS, digest(resumed.pull(PREVIOUS)));
        train(resumed, resumed.trainer(0, 1), PREVIOUS, CRASHED, again);
        assertThat(again).isEqualTo(Map.of(PREVIOUS, digests.get(PREVIOUS), 2L, digests.get(2L),
            CRASHED, digests.get(CRASHED)));
      }
    } finally {
      background.shutdownNow();
      synchronized (log) {
        assertThat(String.join("\n", log)).doesNotContain("Exception in thread");
      }
    }
  }

  /** Steps {@code from} .. {@code to - 1}; records a digest of the parameters after each. */
  private static void train(RemoteModel model, Trainer trainer, long from, long to, Map<Long, String> digests) {
    for (long s = from; s < to; s++) {
      trainer.push(s, gradient(s));
      digests.put(s + 1, digest(model.pull(s + 1)));
    }
  }

  private static Map<String, float[]> gradient(long step) {
    Map<String, float[]> g = new LinkedHashMap<>();
    SplittableRandom rnd = new SplittableRandom(100 + step);
    for (String name : NAMES) {
      float[] v = new float[N];
      for (int i = 0; i < N; i++) {
        v[i] = (float) (rnd.nextDouble() - 0.5);
      }
      g.put(name, v);
    }
    return g;
  }

  /** SHA-256 of every tensor's bits, in model order: equal digests are bitwise equal parameters. */
  private static String digest(Map<String, float[]> params) {
    try {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      ByteBuffer b = ByteBuffer.allocate(N * Float.BYTES);
      for (String name : NAMES) {
        b.clear();
        b.asFloatBuffer().put(params.get(name));
        md.update(name.getBytes(StandardCharsets.UTF_8));
        md.update(b.array(), 0, params.get(name).length * Float.BYTES);
      }
      return java.util.HexFormat.of().formatHex(md.digest());
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new AssertionError(e);
    }
  }

  private static List<String> healthy(ShardoptCluster cluster) {
    return cluster.status().getWorkersList().stream().filter(WorkerStatus::getHealthy)
        .map(WorkerStatus::getAddress).toList();
  }

  private static void await(BooleanSupplier condition, String what) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() - deadline > 0) {
        throw new AssertionError("not within 30 s: " + what);
      }
      Thread.sleep(20);
    }
  }

  /**
   * Waits (60 s at most) until the attempt directory {@code root/<prefix>*} exists and its files
   * have more disk blocks allocated than when it was first seen: the coordinator creates the files
   * as holes, so new blocks are the workers' writes. Fails if the checkpoint ends first.
   */
  private static Path awaitWritesInto(Path root, String prefix, Future<?> checkpoint) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    Path attempt = null;
    long baseline = -1;
    while (System.nanoTime() - deadline < 0) {
      if (checkpoint.isDone()) {
        throw new AssertionError("the checkpoint ended before its writes were seen: " + checkpoint.get());
      }
      if (attempt == null) {
        try (Stream<Path> s = Files.list(root)) {
          Optional<Path> found = s.filter(p -> p.getFileName().toString().startsWith(prefix)).findFirst();
          if (found.isPresent()) {
            attempt = found.get();
            baseline = allocatedBytes(attempt);
          }
        }
      } else if (allocatedBytes(attempt) > baseline + (1 << 20)) {
        return attempt;
      }
      Thread.sleep(1);
    }
    throw new AssertionError("no writes into " + root.resolve(prefix + "*") + " within 60 s");
  }

  /** Disk blocks allocated to the files under {@code dir}, in bytes ({@code du}: holes are not counted). */
  private static long allocatedBytes(Path dir) throws Exception {
    Process du = new ProcessBuilder("du", "-s", "-B1", dir.toString()).redirectErrorStream(true).start();
    String out = new String(du.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    if (!du.waitFor(10, TimeUnit.SECONDS) || du.exitValue() != 0) {
      return -1; // the attempt deleted meanwhile
    }
    return Long.parseLong(out.split("\\s+")[0]);
  }
}
