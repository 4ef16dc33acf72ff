package dev.shardopt.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.shardopt.client.ModelOptions;
import dev.shardopt.client.Shardopt;
import dev.shardopt.client.ShardoptCluster;
import dev.shardopt.client.ShardoptException;
import dev.shardopt.client.Tensors;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.v1.ClusterStatus;
import dev.shardopt.v1.WorkerStatus;
import io.grpc.Status;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Worker processes with --device-memory-limit: a model that does not fit on one of them is refused
 * at CreateModel with RESOURCE_EXHAUSTED naming the sizes and the worker, and leaves nothing on any
 * worker nor on the coordinator; status shows each worker's device and the bytes its shards take.
 */
class DeviceProcessesTest {
  private final ClusterProcesses processes = new ClusterProcesses("256m");

  @AfterEach
  void killAll() throws InterruptedException {
    processes.close();
  }

  private static ClusterStatus awaitStatus(ShardoptCluster cluster, Predicate<ClusterStatus> until) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    ClusterStatus s = cluster.status();
    while (!until.test(s) && System.nanoTime() < deadline) {
      Thread.sleep(50);
      s = cluster.status();
    }
    return s;
  }

  private static boolean shardBytes(ClusterStatus s, long w1, long w2) {
    return s.getWorkersCount() == 2
        && s.getWorkers(0).getDevice().getUsedByShardsBytes() == w1 && s.getWorkers(0).hasDevice()
        && s.getWorkers(1).getDevice().getUsedByShardsBytes() == w2 && s.getWorkers(1).hasDevice();
  }

  @Test
  void aModelThatDoesNotFitIsRefusedWholeAndStatusShowsTheDevices() throws Exception {
    List<String> log = new ArrayList<>();
    String coordinator = processes.start(log, "coordinator", "--port", "0", "--heartbeat-ms", "100");
    processes.start(log, "worker", "--port", "0", "--coordinator", coordinator, "--threads", "1",
        "--device", "cpu", "--device-memory-limit", "1000000");
    processes.start(log, "worker", "--port", "0", "--coordinator", coordinator, "--threads", "1",
        "--device-memory-limit", "200000");
    Pipeline adam = Pipeline.parse("adam(1e-3)");
    try (ShardoptCluster cluster = Shardopt.connect(coordinator)) {
      awaitStatus(cluster, s -> shardBytes(s, 0, 0));

      // 4 blocks of 8192 floats, two per worker; with adam and 2 trainers each worker needs
      // parameters, 2 state slots and the trainer mean's scratch: 4 x 16384 x 4 = 262144 bytes.
      // workers/w1 (limit 1000000) creates its shards, workers/w2 (limit 200000) cannot.
      assertThatThrownBy(() -> cluster.createModel(ModelOptions.named("big").pipeline(adam).trainers(2)
              .tensors(Tensors.of("w", 4 * 8192))))
          .isInstanceOfSatisfying(ShardoptException.class, e -> {
            assertThat(e.code()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
            assertThat(e.serverMessage()).contains("worker workers/w2 cannot hold its shards of models/big: the shards"
                + " need 262144 bytes (1 shard of 16384 floats in all, each with parameters, 2 state slots, scratch) on"
                + " the cpu device, which has 200000 bytes free");
          });
      assertThat(cluster.listModels()).isEmpty();
      // workers/w1 released what it had allocated: both devices hold nothing once they report again
      ClusterStatus empty = awaitStatus(cluster, s -> shardBytes(s, 0, 0));
      assertThat(shardBytes(empty, 0, 0)).as("%s", empty).isTrue();

      // half the size fits: 4 x 8192 x 4 = 131072 bytes on each worker; the name is free again
      cluster.createModel(ModelOptions.named("big").pipeline(adam).trainers(2).tensors(Tensors.of("w", 2 * 8192)));
      ClusterStatus loaded = awaitStatus(cluster, s -> shardBytes(s, 131_072, 131_072));
      assertThat(shardBytes(loaded, 131_072, 131_072)).as("%s", loaded).isTrue();
      assertThat(loaded.getWorkersList()).extracting(WorkerStatus::getDevice)
          .extracting(d -> d.getKind(), d -> d.getName(), d -> d.getTotalBytes(), d -> d.getFreeBytes())
          .containsExactly(
              org.assertj.core.groups.Tuple.tuple("cpu", "Java heap, 1 thread, limited to 1000000 bytes", 1_000_000L,
                  1_000_000L - 131_072),
              org.assertj.core.groups.Tuple.tuple("cpu", "Java heap, 1 thread, limited to 200000 bytes", 200_000L,
                  200_000L - 131_072));

      StringWriter out = new StringWriter();
      assertThat(ShardoptCli.run(new PrintWriter(out), new PrintWriter(new StringWriter()),
          "status", "--coordinator", coordinator)).isZero();
      assertThat(out.toString()).contains(
          "  device cpu \"Java heap, 1 thread, limited to 1000000 bytes\": shards 131072 bytes, free 868928 of 1000000 bytes\n",
          "  device cpu \"Java heap, 1 thread, limited to 200000 bytes\": shards 131072 bytes, free 68928 of 200000 bytes\n");

      // deleting the model frees the devices
      cluster.model("big").delete();
      ClusterStatus freed = awaitStatus(cluster, s -> shardBytes(s, 0, 0));
      assertThat(shardBytes(freed, 0, 0)).as("%s", freed).isTrue();
    }
  }

  @Test
  void aWorkerProcessWhoseDeviceCannotOpenExitsTwoWithOneLine() throws Exception {
    org.junit.jupiter.api.Assumptions.assumeFalse(
        dev.shardopt.engine.device.Devices.installed().providedKinds().contains("opencl"), "opencl is in this build");
    List<String> cmd = List.of(java.nio.file.Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx128m", "-cp", System.getProperty("java.class.path"), "dev.shardopt.cli.ShardoptCli",
        "worker", "--port", "0", "--coordinator", "127.0.0.1:1", "--device", "opencl");
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    String output = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    assertThat(p.exitValue()).isEqualTo(2);
    assertThat(output).isEqualTo("shardopt: device opencl 0 is unavailable: not in this build (no shardopt-device-opencl"
        + " on the class path)\n");
  }
}
