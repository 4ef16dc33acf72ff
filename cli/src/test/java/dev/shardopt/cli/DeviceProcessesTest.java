package dev.shardopt.cli;

import static dev.shardopt.client.Initializers.normal;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.shardopt.client.ModelOptions;
import dev.shardopt.client.RemoteModel;
import dev.shardopt.client.Shardopt;
import dev.shardopt.client.ShardoptCluster;
import dev.shardopt.client.ShardoptException;
import dev.shardopt.client.TensorDef;
import dev.shardopt.client.Tensors;
import dev.shardopt.client.Trainer;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.embedded.OpenClHere;
import dev.shardopt.engine.InitialValues;
import dev.shardopt.engine.LocalOptimizer;
import dev.shardopt.engine.TensorShape;
import dev.shardopt.engine.kernel.ParallelApply;
import dev.shardopt.v1.ClusterStatus;
import dev.shardopt.v1.WorkerStatus;
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
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Worker processes with --device: a model that does not fit on one of them (--device-memory-limit)
 * is refused at CreateModel with RESOURCE_EXHAUSTED naming the sizes and the worker, and leaves
 * nothing on any worker nor on the coordinator; opencl, cpu and auto workers in one cluster compute
 * bitwise what the cpu does; status shows each worker's device and the bytes its shards take.
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

  /**
   * Worker processes on opencl, cpu and auto (which takes opencl here) share one model: adam with
   * clipNorm and accumulate, two trainers, a tensor split over the three. The parameters are bitwise
   * the in-process optimizer's (which an all-cpu cluster's are: ClusterDeterminismTest), and status
   * shows each worker's device.
   */
  @Test
  void openclCpuAndAutoWorkerProcessesMatchTheLocalOptimizerBitwiseAndStatusShowsTheirDevices() throws Exception {
    String name = OpenClHere.deviceName();
    List<String> log = new ArrayList<>();
    String coordinator = processes.start(log, "coordinator", "--port", "0", "--heartbeat-ms", "100");
    String[] devices = {"opencl", "cpu", "auto"};
    for (String d : devices) {
      processes.start(log, "worker", "--port", "0", "--coordinator", coordinator, "--threads", "1", "--device", d);
    }
    synchronized (log) {
      // auto says what it chose, in one line, before the worker serves
      assertThat(log).anySatisfy(l -> assertThat(l).contains("device auto: chose opencl 0 \"" + name + "\" (cuda: "));
      assertThat(log).filteredOn(l -> l.contains(" serving on ") && l.contains("shardopt worker"))
          .extracting(l -> l.replaceAll(".*shardopt worker (workers/w\\d) .*shards on (\\w+) .*", "$1 $2"))
          .containsExactly("workers/w1 opencl", "workers/w2 cpu", "workers/w3 opencl");
    }

    Pipeline pipeline = Pipeline.parse("adam(0.01).clipNorm(1.0).accumulate(2)");
    int trainers = 2;
    int pushes = 8;
    long[][] shapes = {{3 * 8192 + 300}, {64, 5}, {7}};
    String[] names = {"w", "m", "b"};
    Random rnd = new Random(3);
    List<List<Map<String, float[]>>> grads = new ArrayList<>();
    for (int s = 0; s < pushes; s++) {
      // every third push small enough that clipNorm leaves it alone, the others clipped
      double scale = s % 3 == 0 ? 1e-4 : 1.0;
      List<Map<String, float[]>> push = new ArrayList<>();
      for (int r = 0; r < trainers; r++) {
        Map<String, float[]> g = new LinkedHashMap<>();
        for (int t = 0; t < names.length; t++) {
          float[] v = new float[(int) (shapes[t][0] * (shapes[t].length > 1 ? shapes[t][1] : 1))];
          for (int i = 0; i < v.length; i++) {
            v[i] = (float) (scale * rnd.nextGaussian());
          }
          g.put(names[t], v);
        }
        push.add(g);
      }
      grads.add(push);
    }
    ExecutorService pool = Executors.newFixedThreadPool(trainers);
    try (ShardoptCluster cluster = Shardopt.connect(coordinator)) {
      awaitStatus(cluster, s -> s.getWorkersCount() == 3);
      List<TensorDef> defs = new ArrayList<>();
      for (int t = 0; t < names.length; t++) {
        defs.add(Tensors.of(names[t], shapes[t]).init(normal(0.1, 40 + t)));
      }
      RemoteModel model = cluster.createModel(ModelOptions.named("mixed").pipeline(pipeline).trainers(trainers)
          .tensors(defs));
      assertThat(model.shardMap().getShardsList()).extracting(sh -> sh.getWorker()).contains("workers/w1", "workers/w2",
          "workers/w3");
      for (int s = 0; s < pushes; s++) {
        List<Future<?>> futures = new ArrayList<>();
        for (int r = 0; r < trainers; r++) {
          Trainer t = model.trainer(r, trainers);
          Map<String, float[]> g = grads.get(s).get(r);
          int step = s;
          futures.add(pool.submit(() -> t.push(step, g)));
        }
        for (Future<?> f : futures) {
          f.get(30, TimeUnit.SECONDS);
        }
      }
      Map<String, float[]> remote = model.pull(pushes);

      Map<TensorShape, float[]> init = new LinkedHashMap<>();
      for (int t = 0; t < names.length; t++) {
        float[] v = new float[grads.get(0).get(0).get(names[t]).length];
        InitialValues.fill(normal(0.1, 40 + t), 0, v);
        init.put(new TensorShape(names[t], shapes[t]), v);
      }
      LocalOptimizer local = new LocalOptimizer(pipeline, init, trainers, new ParallelApply(pool, 1));
      for (List<Map<String, float[]>> push : grads) {
        local.push(push);
      }
      for (int t = 0; t < names.length; t++) {
        assertThat(remote.get(names[t])).as(names[t]).isEqualTo(local.parameter(names[t]))
            .isNotEqualTo(init.get(new TensorShape(names[t], shapes[t])));
      }

      ClusterStatus loaded = awaitStatus(cluster, st -> st.getWorkersList().stream()
          .allMatch(w -> w.hasDevice() && w.getDevice().getUsedByShardsBytes() > 0));
      assertThat(loaded.getWorkersList()).extracting(w -> w.getName() + " " + w.getDevice().getKind() + " "
              + w.getDevice().getName() + " " + (w.getDevice().getUsedByShardsBytes() > 0))
          .containsExactly("workers/w1 opencl " + name + " true",
              "workers/w2 cpu Java heap, 1 thread true",
              "workers/w3 opencl " + name + " true");
      StringWriter out = new StringWriter();
      assertThat(ShardoptCli.run(new PrintWriter(out), new PrintWriter(new StringWriter()),
          "status", "--coordinator", coordinator)).isZero();
      assertThat(out.toString()).containsPattern("  device opencl \"" + java.util.regex.Pattern.quote(name)
          + "\": shards \\d+ bytes, free \\d+ of \\d+ bytes\n");
    } finally {
      pool.shutdownNow();
    }
  }

  /** A real worker process whose opencl device does not exist exits 2 with one line naming the devices. */
  @Test
  void aWorkerProcessWhoseDeviceCannotOpenExitsTwoWithOneLine() throws Exception {
    String name = OpenClHere.deviceName();
    List<String> cmd = List.of(java.nio.file.Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx128m", "-cp", System.getProperty("java.class.path"), "dev.shardopt.cli.ShardoptCli",
        "worker", "--port", "0", "--coordinator", "127.0.0.1:1", "--device", "opencl", "--device-index", "3");
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String output = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).isEqualTo(2);
    assertThat(output).startsWith("shardopt: device opencl 3 is unavailable: opencl: no device at index 3; the devices"
        + " here are [0] " + name + " (").endsWith(")\n");
    assertThat(output.lines()).hasSize(1);
  }
}
