package dev.shardopt.embedded;

import static dev.shardopt.client.Initializers.normal;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.shardopt.client.ClientOptions;
import dev.shardopt.client.ModelOptions;
import dev.shardopt.client.RemoteModel;
import dev.shardopt.client.ShardoptCluster;
import dev.shardopt.client.ShardoptException;
import dev.shardopt.client.Tensors;
import dev.shardopt.coordinator.CoordinatorConfig;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.v1.ReplicationStatus;
import dev.shardopt.v1.Shard;
import dev.shardopt.v1.ShardMap;
import io.grpc.Status;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A model with 2 copies of every shard on 3 workers: every copy holds its primary's bits after
 * training, and when a worker stops mid-run its shards' backups take over, the shard map's epoch
 * moves on, and the run ends bitwise where an undisturbed run ends.
 */
class ReplicatedClusterTest {
  private static final long[][] SHAPES = {{20_000}, {100}, {2 * 8192 + 5}};
  private static final String[] NAMES = {"body.weight", "body.bias", "head.weight"};
  private static final int TRAINERS = 2;
  private static final int STEPS = 8;
  private static final Pipeline PIPELINE = Pipeline.parse("adam(0.01).clipNorm(5.0)");

  /** Heartbeats every 100 ms, a worker declared dead after 5 missed (500 ms). */
  private static EmbeddedCluster.Builder threeWorkers() {
    return EmbeddedCluster.builder().workers(3)
        .coordinator(CoordinatorConfig.defaults().withMaxShardBlocks(1).withHeartbeatMillis(100).withMissedBeats(5));
  }

  private static RemoteModel create(ShardoptCluster cluster, String id, int replicas) {
    List<dev.shardopt.client.TensorDef> defs = new ArrayList<>();
    for (int t = 0; t < NAMES.length; t++) {
      defs.add(Tensors.of(NAMES[t], SHAPES[t]).init(normal(0.1, 100 + t)));
    }
    return cluster.createModel(ModelOptions.named(id).pipeline(PIPELINE).trainers(TRAINERS).replicas(replicas)
        .tensors(defs));
  }

  private static List<List<Map<String, float[]>>> gradients() {
    return SyncTrainingRun.gaussianGradients(5, STEPS, TRAINERS, NAMES, SHAPES, s -> 1);
  }

  /** The parameters after every step of an undisturbed R = 2 run of {@code grads} on 3 workers. */
  private static List<Map<String, float[]>> undisturbed(List<List<Map<String, float[]>>> grads) throws Exception {
    try (ShardoptCluster cluster = ShardoptLocal.start(threeWorkers(), ClientOptions.defaults())) {
      return SyncTrainingRun.train(create(cluster, "m", 2), grads);
    }
  }

  @Test
  void everyCopyOfEveryShardHoldsItsPrimarysBitsAfterTraining() throws Exception {
    try (EmbeddedCluster embedded = threeWorkers().start();
        ShardoptCluster cluster = dev.shardopt.client.Shardopt.connect(embedded.coordinatorAddress())) {
      RemoteModel model = create(cluster, "copies", 2);
      ShardMap map = model.shardMap();
      // each range twice, primary first, on two different workers; each worker holds 2 of the 3 runs
      List<Shard> primaries = map.getShardsList().stream().filter(s -> s.getReplica() == 0).toList();
      List<Shard> backups = map.getShardsList().stream().filter(s -> s.getReplica() == 1).toList();
      assertThat(map.getShardsCount()).isEqualTo(2 * primaries.size());
      assertThat(backups).hasSize(primaries.size());
      for (Shard p : primaries) {
        Shard b = backups.stream().filter(x -> x.getTensorIndex() == p.getTensorIndex() && x.getOffset() == p.getOffset())
            .findFirst().orElseThrow();
        assertThat(b.getLength()).isEqualTo(p.getLength());
        assertThat(b.getWorker()).isNotEqualTo(p.getWorker());
      }
      assertThat(map.getShardsList().stream().map(Shard::getWorker).distinct()).hasSize(3);
      ReplicationStatus r = model.describe().getReplication();
      assertThat(r.getReplicas()).isEqualTo(2);
      assertThat(r.getEpoch()).isZero();
      assertThat(r.getMinLiveCopies()).isEqualTo(2);
      assertThat(r.getUnderReplicatedShards()).isZero();

      List<Map<String, float[]>> trajectory = SyncTrainingRun.train(model, gradients());
      Map<String, float[]> last = trajectory.get(STEPS - 1);
      assertThat(last.get("body.weight")).isNotEqualTo(trajectory.get(0).get("body.weight"));
      for (Shard s : map.getShardsList()) {
        try (RawWorker w = new RawWorker(s.getAddress())) {
          float[] copy = w.pullShard(model.name(), STEPS, s.getTensorIndex(), s.getOffset(), (int) s.getLength());
          float[] expected = Arrays.copyOfRange(last.get(s.getTensor()), (int) s.getOffset(),
              (int) (s.getOffset() + s.getLength()));
          assertThat(bits(copy)).as("copy %d of %s at %d on %s", s.getReplica(), s.getTensor(), s.getOffset(),
              s.getWorker()).isEqualTo(bits(expected));
        }
      }
    }
  }

  @Test
  void aWorkerStoppedMidRunIsReplacedByItsBackupsAndTheRunEndsBitwiseAsAnUndisturbedOne() throws Exception {
    List<List<Map<String, float[]>>> grads = gradients();
    List<Map<String, float[]>> undisturbed = undisturbed(grads);
    try (EmbeddedCluster embedded = threeWorkers().start();
        ShardoptCluster cluster = dev.shardopt.client.Shardopt.connect(embedded.coordinatorAddress())) {
      RemoteModel model = create(cluster, "m", 2);
      String stopped = model.shardMap().getShardsList().stream()
          .filter(s -> s.getAddress().equals(embedded.workers().get(1).address())).findFirst().orElseThrow().getWorker();
      List<Map<String, float[]>> got = SyncTrainingRun.train(model, grads, s -> {
        if (s == 3) {
          embedded.stopWorker(1);
        }
      });
      for (int s = 0; s < STEPS; s++) {
        for (String name : NAMES) {
          assertThat(bits(got.get(s).get(name))).as("step %d, %s", s, name).isEqualTo(bits(undisturbed.get(s).get(name)));
        }
      }
      ShardMap after = model.shardMap();
      assertThat(after.getEpoch()).isEqualTo(1);
      assertThat(after.getShardsList()).noneMatch(s -> s.getWorker().equals(stopped));
      Set<String> ranges = new HashSet<>();
      for (Shard s : after.getShardsList()) {
        if (s.getReplica() == 0) {
          assertThat(ranges.add(s.getTensorIndex() + ":" + s.getOffset())).isTrue(); // one primary per range
        }
      }
      ReplicationStatus r = model.describe().getReplication();
      assertThat(r.getEpoch()).isEqualTo(1);
      assertThat(r.getLostWorkersList()).containsExactly(stopped);
      assertThat(r.getMinLiveCopies()).isEqualTo(1);
      assertThat(r.getUnderReplicatedShards()).isEqualTo(ranges.size() * 2 / 3);
      assertThat(model.describe().getUpdatesApplied()).isEqualTo(STEPS);
    }
  }

  /** Issue 9: a checkpoint records the replicas, and a restore makes every copy again. */
  @Test
  void aReplicatedModelRestoredFromItsCheckpointHasItsCopiesAgainAndContinuesBitwise(@TempDir Path dir)
      throws Exception {
    List<List<Map<String, float[]>>> grads = gradients();
    List<Map<String, float[]>> undisturbed = undisturbed(grads);
    try (EmbeddedCluster embedded = threeWorkers().start();
        ShardoptCluster cluster = dev.shardopt.client.Shardopt.connect(embedded.coordinatorAddress())) {
      RemoteModel model = create(cluster, "m", 2);
      SyncTrainingRun.train(model, grads.subList(0, 4));
      Path checkpoint = Path.of(model.checkpoint(dir, 4).path());
      model.delete();
      RemoteModel restored = cluster.restoreModel("restored", checkpoint);
      assertThat(restored.describe().getReplicas()).isEqualTo(2);
      ReplicationStatus r = restored.describe().getReplication();
      assertThat(r.getMinLiveCopies()).isEqualTo(2);
      assertThat(r.getUnderReplicatedShards()).isZero();
      ShardMap map = restored.shardMap();
      for (Shard p : map.getShardsList().stream().filter(s -> s.getReplica() == 0).toList()) {
        assertThat(map.getShardsList()).filteredOn(s -> s.getTensorIndex() == p.getTensorIndex()
            && s.getOffset() == p.getOffset()).extracting(Shard::getWorker).doesNotHaveDuplicates().hasSize(2);
      }
      List<Map<String, float[]>> got = SyncTrainingRun.train(restored, grads, 4, s -> { });
      for (int s = 4; s < STEPS; s++) {
        for (String name : NAMES) {
          assertThat(bits(got.get(s - 4).get(name))).as("step %d, %s", s, name)
              .isEqualTo(bits(undisturbed.get(s).get(name)));
        }
      }
      for (Shard s : map.getShardsList()) { // every copy, not only the primaries the pulls read
        try (RawWorker w = new RawWorker(s.getAddress())) {
          float[] copy = w.pullShard(restored.name(), STEPS, s.getTensorIndex(), s.getOffset(), (int) s.getLength());
          assertThat(bits(copy)).as("copy %d of %s at %d", s.getReplica(), s.getTensor(), s.getOffset())
              .isEqualTo(bits(Arrays.copyOfRange(undisturbed.get(STEPS - 1).get(s.getTensor()), (int) s.getOffset(),
                  (int) (s.getOffset() + s.getLength()))));
        }
      }
    }
  }

  @Test
  void fewerWorkersThanReplicasAndReplicatedAsyncModelsAreRefused() throws Exception {
    try (ShardoptCluster cluster = ShardoptLocal.start(threeWorkers(), ClientOptions.defaults())) {
      assertThatThrownBy(() -> create(cluster, "four", 4))
          .isInstanceOfSatisfying(ShardoptException.class, e -> assertThat(e.code())
              .isEqualTo(Status.Code.FAILED_PRECONDITION))
          .hasMessageContaining("asks for 4 replicas, each on a different worker, but 3 workers are healthy");
      assertThatThrownBy(() -> cluster.createModel(ModelOptions.named("a").pipeline(PIPELINE).trainers(2).async()
          .replicas(2).tensors(Tensors.of("w", 10))))
          .isInstanceOfSatisfying(ShardoptException.class, e -> assertThat(e.code())
              .isEqualTo(Status.Code.INVALID_ARGUMENT))
          .hasMessageContaining("model.replicas 2 needs a SYNC model");
    }
  }

  private static int[] bits(float[] v) {
    int[] out = new int[v.length];
    for (int i = 0; i < v.length; i++) {
      out[i] = Float.floatToRawIntBits(v[i]);
    }
    return out;
  }
}
