package dev.shardopt.coordinator;

import static dev.shardopt.coordinator.ModelRegistryTest.assertApiError;
import static dev.shardopt.coordinator.ModelRegistryTest.stat;
import static dev.shardopt.coordinator.ModelRegistryTest.tensor;
import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.dsl.Pipeline;
import dev.shardopt.engine.BlockStatistics;
import dev.shardopt.v1.CreateModelRequest;
import dev.shardopt.v1.CreateShardsRequest;
import dev.shardopt.v1.Model;
import dev.shardopt.v1.ModelProgress;
import dev.shardopt.v1.ModelState;
import dev.shardopt.v1.PipelineSchedule;
import dev.shardopt.v1.RestoreSpec;
import dev.shardopt.v1.Shard;
import dev.shardopt.v1.TrainingMode;
import io.grpc.Status;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class CheckpointRestorerTest {
  private static final int B = 8192;

  @TempDir
  Path dir;

  private final CheckpointCluster cluster = new CheckpointCluster();
  private final ModelRegistry registry = cluster.registry;
  private final CheckpointRestorer restorer = new CheckpointRestorer(registry);
  /** The committed checkpoint of "src": step 4, generation 1 from step 2, 3 updates and 1 skipped step. */
  private Path checkpoint;

  @BeforeEach
  void start() throws Exception {
    // "a" [2, 8192], "b" [10, 10], "c" [3, 8192]: 6 blocks
    registry.create("src", Model.newBuilder().setPipeline(Pipeline.parse("adam(0.1)").toProto())
        .addTensors(tensor("a", 2, B)).addTensors(tensor("b", 10, 10)).addTensors(tensor("c", 3, B)).setTrainers(2)
        .build());
    registry.updatePipeline("models/src", Pipeline.parse("adam(0.05)").toProto(), 2);
    for (long s = 0; s < 4; s++) {
      long generation = s < 2 ? 0 : 1;
      twoWorkerStep("models/src", s, generation, s == 1); // step 1 is skipped (not finite)
    }
    checkpoint = Path.of(cluster.checkpointer.checkpoint("models/src", dir.toString(), null).getPath());
    cluster.fleet.calls.clear();
  }

  @AfterEach
  void stop() throws InterruptedException {
    cluster.close();
  }

  private void twoWorkerStep(String model, long step, long generation, boolean nonFinite) {
    RecordingReply r1 = new RecordingReply();
    RecordingReply r2 = new RecordingReply();
    BlockStatistics w1 = nonFinite ? new BlockStatistics(0, 0, new double[0], 17) : stat(0, 0, 1.0);
    registry.reportStep(model, "workers/w1", step, generation, List.of(w1), r1);
    registry.reportStep(model, "workers/w2", step, generation, List.of(stat(1, 0, 0.0)), r2);
    assertThat(r1.decision().step()).isEqualTo(step);
  }

  private Model restore(String id, String from) {
    return restorer.restore(CreateModelRequest.newBuilder().setModelId(id).setRestoreFrom(from).build());
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 3, 5})
  void restoresOnAnyNumberOfWorkersWithItsScheduleCountersAndStep(int count) {
    List<String> addresses = new ArrayList<>();
    for (int i = 3; i < 3 + count; i++) {
      addresses.add("host" + i + ":7000");
    }
    cluster.now.addAndGet(10_000); // w1 and w2 have stopped beating: only the new workers are healthy
    addresses.forEach(cluster.workers::register);
    addresses.forEach(a -> cluster.fleet.progress.put(a, ModelProgress.newBuilder().setModel("models/r").setStep(4).build()));

    Model m = restore("r", dir.toString()); // the root: its latest complete checkpoint

    List<CreateShardsRequest> created = cluster.fleet.of("create").stream().map(c -> (CreateShardsRequest) c.request()).toList();
    assertThat(created).hasSize(count);
    assertThat(cluster.fleet.of("create")).extracting(ModelRegistryTest.FakeFleet.Call::address)
        .containsExactlyInAnyOrderElementsOf(addresses);
    RestoreSpec expected = RestoreSpec.newBuilder().setPath(checkpoint.toString()).setStep(4).setUpdatesApplied(3)
        .setStepsSkipped(1).build();
    assertThat(created).allSatisfy(c -> {
      assertThat(c.getRestore()).isEqualTo(expected);
      assertThat(c.getModel().getPipelineText()).isEqualTo(Pipeline.parse("adam(0.1)").toString()); // generation 0
    });
    // every element of every tensor on exactly one worker
    long[] sizes = {2 * B, 100, 3 * B};
    for (int t = 0; t < 3; t++) {
      int tensor = t;
      List<Shard> shards = created.stream().flatMap(c -> c.getShardsList().stream())
          .filter(s -> s.getTensorIndex() == tensor).sorted(Comparator.comparingLong(Shard::getOffset)).toList();
      long covered = 0;
      for (Shard s : shards) {
        assertThat(s.getOffset()).isEqualTo(covered);
        covered += s.getLength();
      }
      assertThat(covered).as("tensor %d", t).isEqualTo(sizes[t]);
    }

    assertThat(m.getName()).isEqualTo("models/r");
    assertThat(m.getState()).isEqualTo(ModelState.READY);
    assertThat(m.getStep()).isEqualTo(4);
    assertThat(m.getTrainers()).isEqualTo(2);
    assertThat(m.getUpdatesApplied()).isEqualTo(3);
    assertThat(m.getStepsSkipped()).isEqualTo(1);
    assertThat(m.getPipelineScheduleList()).extracting(g -> g.getGeneration() + "@" + g.getFromStep())
        .containsExactly("0@0", "1@2");
    assertThat(m.getPipelineText()).isEqualTo(Pipeline.parse("adam(0.05)").toString());
    PipelineSchedule schedule = registry.pipelineSchedule("models/r", 0);
    assertThat(schedule.getFixedThrough()).isEqualTo(4);
  }

  @Test
  void theRestoredModelDecidesFromTheCheckpointsStepWithItsCounters() {
    restore("r", checkpoint.toString());
    RecordingReply w1 = new RecordingReply();
    RecordingReply w2 = new RecordingReply();
    registry.reportStep("models/r", "workers/w1", 4, 1, List.of(stat(0, 0, 1.0)), w1);
    registry.reportStep("models/r", "workers/w2", 4, 1, List.of(stat(1, 0, 0.0)), w2);
    DecidedStep d = w1.decision();
    assertThat(d.step()).isEqualTo(4);
    assertThat(d.generation()).isEqualTo(1);
    assertThat(d.decision().update()).isEqualTo(3); // t = updates applied: 3 before the checkpoint
    assertThat(d.decision().learningRate()).isEqualTo(0.05); // generation 1's
    assertThat(registry.metrics("models/r", 0).getStepsList()).extracting(s -> s.getStep()).containsExactly(4L);
    assertThat(registry.metrics("models/r", 0).getStepsSkipped()).isEqualTo(1);
  }

  @Test
  void anAsyncCheckpointIsRestoredWithItsCutAndTheScheduleFixedThroughTheHighestNextPush() {
    registry.create("as", Model.newBuilder().setPipeline(Pipeline.parse("adam(0.1)").toProto())
        .addTensors(tensor("a", 2, B)).setTrainers(3).setMode(TrainingMode.ASYNC).setStaleness(4).build());
    registry.updatePipeline("models/as", Pipeline.parse("adam(0.05)").toProto(), 9);
    cluster.fleet.nextPushes.put(CheckpointCluster.A1, List.of(6L, 2L, 5L));
    cluster.fleet.nextPushes.put(CheckpointCluster.A2, List.of(6L, 3L, 4L));
    Path async = Path.of(cluster.checkpointer.checkpoint("models/as", dir.resolve("async").toString(), null).getPath());
    cluster.fleet.calls.clear();
    cluster.fleet.progress.put(CheckpointCluster.A1, ModelProgress.newBuilder().setStep(14).setUpdatesApplied(5)
        .addAllNextPush(List.of(6L, 3L, 5L)).build());
    cluster.fleet.progress.put(CheckpointCluster.A2, ModelProgress.newBuilder().setStep(15).setUpdatesApplied(5)
        .addAllNextPush(List.of(7L, 3L, 5L)).build());

    Model m = restore("ar", async.toString());

    assertThat(async.getFileName().toString()).isEqualTo("step-0000000014");
    RestoreSpec expected = RestoreSpec.newBuilder().setPath(async.toString()).setStep(14).setUpdatesApplied(5)
        .setStepsSkipped(1).addAllNextPush(List.of(6L, 3L, 5L)).build();
    assertThat(cluster.fleet.of("create")).extracting(c -> ((CreateShardsRequest) c.request()).getRestore())
        .containsOnly(expected);
    assertThat(m.getMode()).isEqualTo(TrainingMode.ASYNC);
    assertThat(m.getTrainers()).isEqualTo(3);
    assertThat(m.getStaleness()).isEqualTo(4);
    assertThat(m.getNextPushList()).containsExactly(6L, 3L, 5L); // per trainer, the lowest the workers report
    assertThat(m.getPipelineScheduleList()).extracting(g -> g.getGeneration() + "@" + g.getFromStep())
        .containsExactly("0@0", "1@9");
    // every trainer's next push is fixed; a change may come after the highest
    assertThat(registry.pipelineSchedule("models/ar", 0).getFixedThrough()).isEqualTo(6);
    assertApiError(() -> registry.updatePipeline("models/ar", Pipeline.parse("adam(0.02)").toProto(), 6),
        Status.Code.FAILED_PRECONDITION).hasMessageContaining("choose at_step 9 or later");
  }

  @Test
  void badRequestsAreRefusedBeforeTheCheckpointIsRead() {
    assertApiError(() -> restorer.restore(CreateModelRequest.newBuilder().setModelId("r").setRestoreFrom(dir.toString())
        .setModel(Model.getDefaultInstance()).build()), Status.Code.INVALID_ARGUMENT)
        .hasMessageContaining("model and restore_from are both set");
    assertApiError(() -> restore("r", "  "), Status.Code.INVALID_ARGUMENT).hasMessageContaining("restore_from is empty");
    assertApiError(() -> restore("r", "ckpt"), Status.Code.INVALID_ARGUMENT).hasMessageContaining("is relative");
    assertApiError(() -> restore("R!", dir.toString()), Status.Code.INVALID_ARGUMENT).hasMessageContaining("model_id");
    assertApiError(() -> restore("src", dir.toString()), Status.Code.ALREADY_EXISTS).hasMessageContaining("models/src");
    assertThat(cluster.fleet.of("create")).isEmpty();
  }

  @Test
  void aFlippedByteInADataFileIsAChecksumMismatchNamingTheFileAndTheShardsReadAreDropped() throws Exception {
    Path file = checkpoint.resolve("c.exp_avg.npy");
    try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
      f.seek(f.length() - 7);
      int b = f.read();
      f.seek(f.length() - 7);
      f.write(b ^ 0x10);
    }
    // the contents are checked with the ranges the workers read: they created their shards, which are dropped
    assertApiError(() -> restore("r", checkpoint.toString()), Status.Code.FAILED_PRECONDITION)
        .hasMessageStartingWith(file.toString()).hasMessageContaining("checksum mismatch: CRC32C got ");
    List<String> created = cluster.fleet.of("create").stream().map(ModelRegistryTest.FakeFleet.Call::address).toList();
    assertThat(created).containsExactlyInAnyOrder(CheckpointCluster.A1, CheckpointCluster.A2);
    assertThat(cluster.fleet.of("drop")).extracting(ModelRegistryTest.FakeFleet.Call::address)
        .containsExactlyInAnyOrderElementsOf(created);
    assertApiError(() -> registry.get("models/r"), Status.Code.NOT_FOUND);
    assertThat(registry.list()).extracting(Model::getName).containsExactly("models/src");
  }

  @Test
  void aFlippedByteInAFileHeaderIsRefusedBeforeAnythingIsCreated() throws Exception {
    Path file = checkpoint.resolve("b.npy");
    try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
      f.seek(0);
      int b = f.read();
      f.seek(0);
      f.write(b ^ 0x01); // the npy magic
    }
    assertRefused(Status.Code.INVALID_ARGUMENT, file.toString(), "magic");
  }

  @Test
  void aTruncatedDataFileIsRefusedNamingTheFile() throws Exception {
    Path file = checkpoint.resolve("a.npy");
    try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
      f.setLength(f.length() - 4);
    }
    assertRefused(Status.Code.FAILED_PRECONDITION, file.toString(), "size");
  }

  @Test
  void aDeletedDataFileIsRefusedNamingTheFile() throws Exception {
    Path file = checkpoint.resolve("b.exp_avg_sq.npy");
    Files.delete(file);
    assertRefused(Status.Code.FAILED_PRECONDITION, file.toString(), "missing");
  }

  @Test
  void aDamagedManifestIsRefusedNamingIt() throws Exception {
    Path manifest = checkpoint.resolve("manifest.json");
    Files.writeString(manifest, Files.readString(manifest).replace("\"updates_applied\": \"3\"", "\"updates_applied\": \"7\""));
    assertRefused(Status.Code.FAILED_PRECONDITION, manifest.toString(), "checksum mismatch");
    Files.writeString(manifest, "{ not json");
    assertRefused(Status.Code.INVALID_ARGUMENT, manifest.toString(), "malformed manifest");
  }

  private void assertRefused(Status.Code code, String file, String what) {
    assertApiError(() -> restore("r", checkpoint.toString()), code).hasMessageStartingWith(file)
        .hasMessageContaining(what);
    assertThat(cluster.fleet.of("create")).isEmpty();
    assertApiError(() -> registry.get("models/r"), Status.Code.NOT_FOUND);
  }
}
