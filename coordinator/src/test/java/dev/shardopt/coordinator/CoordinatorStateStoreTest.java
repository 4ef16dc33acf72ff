package dev.shardopt.coordinator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.shardopt.v1.Model;
import dev.shardopt.v1.ModelRecordState;
import dev.shardopt.v1.PendingCopy;
import dev.shardopt.v1.PipelineSchedule;
import dev.shardopt.v1.Shard;
import dev.shardopt.v1.StepDecision;
import dev.shardopt.v1.TrainingMode;
import dev.shardopt.v1.WorkerIdentity;
import dev.shardopt.v1.WorkerRegistryState;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CoordinatorStateStoreTest {
  @TempDir
  Path dir;

  /** Every field of a model's state set to a value other than its default. */
  static ModelRecordState fullModel(String name, long updates) {
    Model spec = ModelRegistryTest.twoWorkerModel("adam(1e-3).clipNorm(1.0)").toBuilder().setName(name).setTrainers(3)
        .setMode(TrainingMode.SYNC).build();
    return ModelRecordState.newBuilder().setSpec(spec)
        .addShards(Shard.newBuilder().setTensor("a").setOffset(0).setLength(8192).setWorker("workers/w1").setAddress("h:1"))
        .addShards(Shard.newBuilder().setTensor("a").setOffset(8192).setLength(8192).setWorker("workers/w2").setAddress("h:2"))
        .setSchedule(PipelineSchedule.newBuilder().setFixedThrough(9)
            .addGenerations(ModelRegistryTest.generation(0, 0, "adam(1e-3).clipNorm(1.0)"))
            .addGenerations(ModelRegistryTest.generation(1, 6, "adam(5e-4).clipNorm(0.5)")))
        .setUpdatesApplied(updates).setStepsSkipped(2).setNextStep(9)
        .addRecentDecisions(StepDecision.newBuilder().setAction(StepDecision.Action.APPLY).setStep(8).setUpdate(6)
            .setLearningRate(5e-4).setClipScale(0.25f).setGradientNorm(2.0).setGeneration(1).setFixedThrough(9)
            .setLatestGeneration(1))
        .addUploadWorkers("workers/w1").addLoaded("workers/w1").setFailure("step 9 timed out")
        .setIncarnation("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0").setEpoch(2).addLostWorkers("workers/w3")
        .addLostWorkers("workers/w4").setLatestCheckpoint("/ckpt/step-0000000006")
        .setPendingCopy(PendingCopy.newBuilder().setStep(10).setEpoch(2)
            .setTarget(WorkerIdentity.newBuilder().setName("workers/w5").setAddress("h:5"))
            .addCopies(Shard.newBuilder().setTensor("a").setOffset(0).setLength(8192).setReplica(1)
                .setWorker("workers/w5").setAddress("h:5"))
            .addSources(Shard.newBuilder().setTensor("a").setOffset(0).setLength(8192).setWorker("workers/w1")
                .setAddress("h:1")))
        .build();
  }

  @Test
  void everyFieldSurvivesAReopen() {
    CoordinatorStateStore store = CoordinatorStateStore.open(dir);
    assertThat(store.durable()).isTrue();
    assertThat(store.models()).isEmpty();
    assertThat(store.workers()).isEqualTo(WorkerRegistryState.getDefaultInstance());
    WorkerRegistryState workers = WorkerRegistryState.newBuilder().setNextNumber(4)
        .addWorkers(WorkerIdentity.newBuilder().setName("workers/w1").setAddress("h:1"))
        .addWorkers(WorkerIdentity.newBuilder().setName("workers/w3").setAddress("h:3")).build();
    ModelRecordState a = fullModel("models/a", 6);
    ModelRecordState b = fullModel("models/b", 7);
    store.saveWorkers(workers);
    store.saveModel(a);
    store.saveModel(b);
    store.saveModel(fullModel("models/c", 1));
    store.deleteModel("models/c");

    CoordinatorStateStore reopened = CoordinatorStateStore.open(dir);
    assertThat(reopened.workers()).isEqualTo(workers);
    assertThat(reopened.models()).containsExactly(a, b);
    for (var f : new ModelRecordState[] {a, b}) {
      assertThat(f.getAllFields()).as("every field is set in the fixture").hasSize(ModelRecordState.getDescriptor().getFields().size());
    }
  }

  @Test
  void aCrashBetweenWriteAndRenameLeavesThePreviousState() throws Exception {
    CoordinatorStateStore store = CoordinatorStateStore.open(dir);
    ModelRecordState before = fullModel("models/a", 6);
    store.saveModel(before);
    // what a crash leaves after the temporary file was written (whole, or torn) but before its rename
    Path file = store.modelFile("models/a");
    ByteBuffer next = CoordinatorStateStore.frame(fullModel("models/a", 7).toByteArray());
    Files.write(file.resolveSibling(file.getFileName() + ".tmp"), Arrays.copyOf(next.array(), next.limit() / 2));

    CoordinatorStateStore reopened = CoordinatorStateStore.open(dir);
    assertThat(reopened.models()).containsExactly(before);
    assertThat(file.resolveSibling(file.getFileName() + ".tmp")).doesNotExist();
  }

  @Test
  void aCorruptFileStopsTheOpenNamingIt() throws Exception {
    CoordinatorStateStore.open(dir).saveModel(fullModel("models/a", 6));
    Path file = dir.resolve("model-a.state");
    byte[] good = Files.readAllBytes(file);

    byte[] flipped = good.clone();
    flipped[good.length - 5] ^= 0x10;
    Files.write(file, flipped);
    assertThatThrownBy(() -> CoordinatorStateStore.open(dir)).isInstanceOf(CoordinatorStateStore.UnreadableStateException.class)
        .hasMessage("coordinator state file " + file + " is corrupt: its CRC32C does not match its contents; restore it,"
            + " or start with an empty --state-dir (every model is lost)");

    Files.write(file, Arrays.copyOf(good, good.length - 1));
    assertThatThrownBy(() -> CoordinatorStateStore.open(dir)).hasMessageContaining(file + " is corrupt: it holds "
        + (good.length - 13) + " bytes of state where its header says " + (good.length - 12));

    Files.write(dir.resolve("workers.state"), "not a state file".getBytes());
    Files.write(file, good);
    assertThatThrownBy(() -> CoordinatorStateStore.open(dir))
        .hasMessageContaining(dir.resolve("workers.state") + " is corrupt: it is not a Shardopt coordinator state file");
  }

  @Test
  void withoutADirectoryNothingIsKept() {
    CoordinatorStateStore none = CoordinatorStateStore.none();
    none.saveModel(fullModel("models/a", 6));
    none.deleteModel("models/a");
    assertThat(none.durable()).isFalse();
    assertThat(none.models()).isEmpty();
  }
}
