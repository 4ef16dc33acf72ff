package dev.shardopt.embedded;

import static dev.shardopt.client.Initializers.normal;
import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.client.ModelOptions;
import dev.shardopt.client.RemoteModel;
import dev.shardopt.client.Shardopt;
import dev.shardopt.client.ShardoptCluster;
import dev.shardopt.client.TensorDef;
import dev.shardopt.client.Tensors;
import dev.shardopt.coordinator.CoordinatorConfig;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.engine.device.DeviceSelection;
import dev.shardopt.v1.ShardMap;
import dev.shardopt.worker.server.WorkerServer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntPredicate;
import org.junit.jupiter.api.Test;

/**
 * A cluster whose workers mix the cpu and opencl backends gives bitwise the parameters of an
 * all-cpu cluster after every push: adam with clipNorm (clipping some steps, not others) and
 * accumulate, two trainers, four tensors, one of them three blocks long and split over the workers
 * (one-block shards), so that the clip norm's sum of squares adds partials from both backends.
 */
class MixedDeviceClusterTest {
  private static final String[] NAMES = {"body.weight", "body.bias", "head.weight", "head.bias"};
  private static final long[][] SHAPES = {{3 * 8192 + 1234}, {300}, {40, 125}, {17}};
  private static final Pipeline PIPELINE = Pipeline.parse("adam(0.01).clipNorm(1.0).accumulate(2)");
  private static final int TRAINERS = 2;
  private static final int PUSHES = 12;
  private static final int WORKERS = 4;

  @Test
  void cpuAndOpenClWorkersGiveTheAllCpuParametersBitwise() throws Exception {
    OpenClHere.deviceName();
    // scale 1e-4 on the pushes of every third window (not clipped), 1 otherwise (clipped)
    List<List<Map<String, float[]>>> grads = SyncTrainingRun.gaussianGradients(
        17, PUSHES, TRAINERS, NAMES, SHAPES, s -> (s / 2) % 3 == 0 ? 1e-4 : 1.0);
    List<Map<String, float[]>> cpu = train(i -> false, grads);
    List<Map<String, float[]>> mixed = train(i -> i % 2 == 1, grads);
    for (int s = 0; s < PUSHES; s++) {
      for (String name : NAMES) {
        assertThat(mixed.get(s).get(name)).as("push %d, %s", s, name).isEqualTo(cpu.get(s).get(name));
      }
    }
    // the run moved every tensor, and the accumulation window held the parameters between its pushes
    for (String name : NAMES) {
      assertThat(cpu.get(PUSHES - 1).get(name)).as(name).isNotEqualTo(cpu.get(1).get(name));
      assertThat(cpu.get(2).get(name)).as(name).isEqualTo(cpu.get(1).get(name));
    }
  }

  /** The parameters after every push, on 4 workers with one-block shards; {@code opencl} picks the opencl workers. */
  private static List<Map<String, float[]>> train(IntPredicate opencl, List<List<Map<String, float[]>>> grads)
      throws Exception {
    EmbeddedCluster.Builder b = EmbeddedCluster.builder().workers(WORKERS)
        .coordinator(CoordinatorConfig.defaults().withMaxShardBlocks(1))
        .worker((i, c) -> c.withThreads(1).withDevice(opencl.test(i) ? DeviceSelection.of("opencl") : DeviceSelection.cpu()));
    try (EmbeddedCluster servers = b.start(); ShardoptCluster cluster = Shardopt.connect(servers.coordinatorAddress())) {
      List<String> kinds = new ArrayList<>();
      for (int i = 0; i < WORKERS; i++) {
        kinds.add(opencl.test(i) ? "opencl" : "cpu");
      }
      assertThat(servers.workers()).extracting(w -> w.device().kind()).isEqualTo(kinds);
      List<TensorDef> defs = new ArrayList<>();
      for (int t = 0; t < NAMES.length; t++) {
        defs.add(Tensors.of(NAMES[t], SHAPES[t]).init(normal(0.1, 60 + t)));
      }
      RemoteModel model = cluster.createModel(ModelOptions.named("mixed").pipeline(PIPELINE).trainers(TRAINERS)
          .tensors(defs));
      // body.weight (4 blocks) is split over workers of both kinds when there are both, and every worker
      // holds shards: the clip norm's sum of squares gathers partials from every worker
      Map<String, String> kindOf = new LinkedHashMap<>();
      servers.workers().forEach(w -> kindOf.put(w.name(), w.device().kind()));
      ShardMap map = model.shardMap();
      List<String> bodyWeightOn = map.getShardsList().stream().filter(s -> s.getTensor().equals("body.weight"))
          .map(s -> kindOf.get(s.getWorker())).distinct().sorted().toList();
      assertThat(bodyWeightOn).isEqualTo(kinds.contains("opencl") ? List.of("cpu", "opencl") : List.of("cpu"));
      assertThat(map.getShardsList().stream().filter(s -> s.getTensor().equals("body.weight"))).hasSizeGreaterThan(1);
      for (WorkerServer w : servers.workers()) {
        assertThat(w.device().info().usedByShardsBytes()).as(w.name()).isPositive();
      }
      return SyncTrainingRun.train(model, grads);
    }
  }
}
