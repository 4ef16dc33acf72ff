package dev.shardopt.embedded;

import static dev.shardopt.client.Initializers.normal;
import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.client.ClientOptions;
import dev.shardopt.client.ModelOptions;
import dev.shardopt.client.RemoteModel;
import dev.shardopt.client.ShardoptCluster;
import dev.shardopt.client.Tensors;
import dev.shardopt.coordinator.CoordinatorConfig;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.embedded.EmbeddedCluster;
import dev.shardopt.engine.InitialValues;
import dev.shardopt.engine.LocalOptimizer;
import dev.shardopt.engine.TensorShape;
import dev.shardopt.engine.kernel.ParallelApply;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.Test;

/**
 * K = 3 trainers push through real gRPC servers; the parameters after every step must be bitwise
 * those of the in-process optimizer, for 1, 2, 3 and 5 workers, any shard size, and 2 or 3 copies of
 * every shard (pulled from the primaries), with the cluster's own calls in-process (the default) and
 * over the loopback sockets.
 */
class ClusterDeterminismTest {
  // Tensor sizes cross reduction blocks (8192) so that shards split tensors mid-way.
  private static final long[][] SHAPES = {{20_000}, {100}, {3, 3000}, {2 * 8192 + 5}, {7}};
  private static final String[] NAMES = {"body.weight", "body.bias", "norm.scale", "head.weight", "head.bias"};
  private static final int TRAINERS = 3;
  private static final int STEPS = 6;

  private static final Pipeline PIPELINE = Pipeline.parse(
      "adamw(0.01).warmup(2).cosine(20).clipNorm(5.0).weightDecay(0.1).accumulate(2).noDecay(\"*.bias\")"
          + ".lrScale(\"head.*\", 0.5)");

  @Test
  void everyWorkerCountAndShardSizeGivesTheLocalTrajectoryBitwise() throws Exception {
    List<List<Map<String, float[]>>> grads = SyncTrainingRun.gaussianGradients(11, STEPS, TRAINERS, NAMES, SHAPES, s -> 1);
    List<Map<String, float[]>> expected = local(grads);
    // workers, shard blocks, replicas, 1: every call on the loopback sockets
    int[][] configs = {{1, 0, 1, 0}, {2, 0, 1, 0}, {3, 1, 1, 0}, {5, 0, 1, 0}, {2, 2, 1, 0}, {3, 1, 2, 0}, {4, 0, 3, 0},
        {2, 0, 1, 1}, {3, 1, 2, 1}};
    for (int[] c : configs) {
      List<Map<String, float[]>> got = cluster(c[0], c[1], c[2], c[3] == 1, grads);
      for (int s = 0; s < STEPS; s++) {
        for (String name : NAMES) {
          assertThat(got.get(s).get(name))
              .as("%d workers, shard blocks %d, %d replicas, %s, step %d, %s", c[0], c[1], c[2],
                  c[3] == 1 ? "loopback" : "in-process", s, name)
              .isEqualTo(expected.get(s).get(name));
        }
      }
    }
    // and the run really moved: not a trivially equal constant trajectory
    assertThat(expected.get(STEPS - 1).get("body.weight")).isNotEqualTo(expected.get(0).get("body.weight"));
  }

  /** The tensors' initial values as the workers generate them (normal, seeded per tensor). */
  private static Map<String, float[]> initialValues() {
    Map<String, float[]> out = new LinkedHashMap<>();
    for (int t = 0; t < NAMES.length; t++) {
      float[] v = new float[SyncTrainingRun.size(SHAPES[t])];
      InitialValues.fill(normal(0.1, 100 + t), 0, v);
      out.put(NAMES[t], v);
    }
    return out;
  }

  private static List<Map<String, float[]>> local(List<List<Map<String, float[]>>> grads) {
    ExecutorService pool = Executors.newFixedThreadPool(1);
    try {
      Map<TensorShape, float[]> init = new LinkedHashMap<>();
      Map<String, float[]> values = initialValues();
      for (int t = 0; t < NAMES.length; t++) {
        init.put(new TensorShape(NAMES[t], SHAPES[t]), values.get(NAMES[t]));
      }
      LocalOptimizer opt = new LocalOptimizer(PIPELINE, init, TRAINERS, new ParallelApply(pool, 2, 1));
      List<Map<String, float[]>> out = new ArrayList<>();
      for (List<Map<String, float[]>> push : grads) {
        opt.push(push);
        out.add(opt.parameters());
      }
      return out;
    } finally {
      pool.shutdownNow();
    }
  }

  private static List<Map<String, float[]>> cluster(int workers, int shardBlocks, int replicas, boolean loopback,
      List<List<Map<String, float[]>>> grads) throws Exception {
    EmbeddedCluster.Builder b = EmbeddedCluster.builder().workers(workers)
        .coordinator(CoordinatorConfig.defaults().withMaxShardBlocks(shardBlocks))
        .worker((i, c) -> c.withThreads(1 + i % 2));
    if (loopback) {
      b.loopbackOnly();
    }
    EmbeddedCluster servers = b.start();
    // every server of the cluster is reached in-process, or none is
    java.util.Set<Integer> ports = new java.util.HashSet<>();
    ports.add(servers.coordinator().port());
    servers.workers().forEach(w -> ports.add(w.port()));
    assertThat(ports).hasSize(workers + 1);
    assertThat(servers.inProcessEndpoints().map(e -> e.ports()).orElse(java.util.Set.of()))
        .isEqualTo(loopback ? java.util.Set.of() : ports);
    try (ShardoptCluster cluster = new ShardoptCluster(servers.coordinatorAddress(), ClientOptions.defaults(), servers,
        servers.inProcessEndpoints().orElse(null))) {
      ModelOptions options = ModelOptions.named("det").pipeline(PIPELINE).trainers(TRAINERS).replicas(replicas);
      List<dev.shardopt.client.TensorDef> defs = new ArrayList<>();
      for (int t = 0; t < NAMES.length; t++) {
        defs.add(Tensors.of(NAMES[t], SHAPES[t]).init(normal(0.1, 100 + t)));
      }
      RemoteModel model = cluster.createModel(options.tensors(defs));
      return SyncTrainingRun.train(model, grads);
    }
  }
}
