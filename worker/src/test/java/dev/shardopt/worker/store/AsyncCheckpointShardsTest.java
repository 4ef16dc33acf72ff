package dev.shardopt.worker.store;

import static dev.shardopt.worker.store.TestModels.pull;
import static dev.shardopt.worker.store.TestModels.push;
import static dev.shardopt.worker.store.TestModels.pushAsync;
import static dev.shardopt.worker.store.TestModels.refused;
import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.checkpoint.CheckpointLayout;
import dev.shardopt.checkpoint.CheckpointPlan;
import dev.shardopt.checkpoint.CheckpointReader;
import dev.shardopt.checkpoint.FileRange;
import dev.shardopt.checkpoint.ManifestWriter;
import dev.shardopt.checkpoint.PendingCheckpoint;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.engine.device.CpuBackend;
import dev.shardopt.engine.kernel.ParallelApply;
import dev.shardopt.rpc.ApiException;
import dev.shardopt.v1.CheckpointManifest;
import dev.shardopt.v1.CreateShardsRequest;
import dev.shardopt.v1.Model;
import dev.shardopt.v1.PipelineGeneration;
import dev.shardopt.v1.RestoreSpec;
import dev.shardopt.v1.Shard;
import dev.shardopt.v1.TensorSpec;
import dev.shardopt.v1.TrainingMode;
import io.grpc.Status;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An ASYNC model's checkpoint on one worker: HoldPushes, SnapshotShards at a cut, PersistShards,
 * and a restore that continues from the cut exactly once.
 *
 * <p>The model counts pushes: sgd(1.0) on a zero tensor {@code w} of 2 elements, trainer r's every
 * gradient 1 at element r and 0 at the other, so {@code w[r]} is minus the number of trainer r's
 * pushes applied, exactly (small integers are exact in float32).
 */
class AsyncCheckpointShardsTest {
  private static final Pipeline SGD = Pipeline.parse("sgd(1.0)");
  private static final TensorSpec W = TensorSpec.newBuilder().setName("w").addShape(2).build();

  private final TestModels models = new TestModels();
  private ShardStore store;
  @TempDir
  Path root;

  @AfterEach
  void stop() {
    if (store != null) {
      store.close();
    }
    models.close();
  }

  private WorkerModel counting() {
    return models.model(SGD, 2, TrainingMode.ASYNC, 0, new FakeCoordinator(SGD, List.of("w")), List.of("w"),
        new float[2]);
  }

  private static float[][] one(int trainer) {
    float[] g = new float[2];
    g[trainer] = 1;
    return new float[][] {g};
  }

  private static PushAck push(WorkerModel m, int trainer, long step) throws Exception {
    return TestModels.push(m, trainer, step, one(trainer));
  }

  private static CompletableFuture<PushAck> pushLater(WorkerModel m, int trainer, long step) {
    return pushAsync(m, trainer, step, one(trainer), 1.0, false, 5000);
  }

  private static long[] hold(WorkerModel m, long millis) throws Exception {
    return m.holdPushes(millis).get(10, TimeUnit.SECONDS);
  }

  /** Trainer 0's pushes 0, 1 and trainer 1's push 0 applied, then a checkpoint at the cut [3, 1], as if
   *  another worker had already applied trainer 0's push 2 when the pushes were held. */
  private Path checkpointAtThreeAndOne() throws Exception {
    WorkerModel m = counting();
    push(m, 0, 0);
    push(m, 0, 1);
    push(m, 1, 0);
    assertThat(hold(m, 5000)).containsExactly(2, 1);

    CompletableFuture<PushAck> belowCut = pushLater(m, 0, 2);
    CompletableFuture<PushAck> beyondCut = pushLater(m, 1, 1);
    assertThat(belowCut).isNotDone(); // the cut is not known yet: both wait
    assertThat(beyondCut).isNotDone();
    assertThat(m.version()).isEqualTo(3);

    PendingCheckpoint pending = CheckpointLayout.create(root, 4, CheckpointPlan.of(List.of(W), List.of()));
    ShardCopy copy = m.copyAtCut(4, new long[] {3, 1}, pending.dir()).get(10, TimeUnit.SECONDS);
    assertThat(copy).isEqualTo(new ShardCopy(4, 2 * 4, 4, 0)); // sgd keeps no state: the parameters only
    assertThat(belowCut.get(10, TimeUnit.SECONDS)).isEqualTo(new PushAck(2, false, 4));
    assertThat(beyondCut.get(10, TimeUnit.SECONDS)).isEqualTo(new PushAck(1, false, 5)); // applied after the copy
    assertThat(pull(m, 5)[0]).containsExactly(-3f, -2f);
    assertThat(m.nextPushes()).containsExactly(3, 2);

    List<FileRange> ranges = m.persistShards(4, pending.dir()).get(10, TimeUnit.SECONDS);
    return ManifestWriter.commit(pending, CheckpointManifest.newBuilder().setModelId("m").setStep(4)
        .setPipelineText(SGD.toString()).setTrainers(2).setMode(TrainingMode.ASYNC).addTensors(W)
        .setUpdatesApplied(4).addNextPush(3).addNextPush(1).build(), ranges);
  }

  @Test
  void theCopyHoldsExactlyThePushesBelowTheCutAndThoseBeyondItApplyAfterIt() throws Exception {
    Path dir = checkpointAtThreeAndOne();
    try (CheckpointReader r = CheckpointReader.open(dir)) {
      r.verify();
      // trainer 0's pushes 0..2 and trainer 1's push 0: not trainer 1's push 1, which waited beyond the cut
      assertThat(r.readAll("w", "")).containsExactly(-3f, -1f);
    }
  }

  @Test
  void aRestoredModelContinuesFromEachTrainersNextPushAndTakesEarlierOnesAsDuplicates() throws Exception {
    Path dir = checkpointAtThreeAndOne();
    FakeCoordinator c = new FakeCoordinator(SGD, List.of("w"));
    store = new ShardStore(c, new CpuBackend(new ParallelApply(models.pool, 1)), new ParallelApply(models.pool, 1), models.timeouts, models.checkpoints);
    Model spec = Model.newBuilder().setName("models/m").setPipeline(SGD.toProto()).setTrainers(2)
        .setMode(TrainingMode.ASYNC).addTensors(W)
        .addPipelineSchedule(PipelineGeneration.newBuilder().setPipeline(SGD.toProto())).build();
    RestoreSpec restore = RestoreSpec.newBuilder().setPath(dir.toString()).setStep(4).setUpdatesApplied(4)
        .addNextPush(3).addNextPush(1).build();
    WorkerModel m = store.create(CreateShardsRequest.newBuilder().setModel(spec).setRestore(restore)
        .addShards(Shard.newBuilder().setTensor("w").setTensorIndex(0).setOffset(0).setLength(2)).build());
    assertThat(m.version()).isEqualTo(4);
    assertThat(m.nextPushes()).containsExactly(3, 1);
    assertThat(m.fixedThrough()).isEqualTo(3); // every trainer's next push is fixed

    // pushes in the checkpoint, sent again (with any data: no checksum is kept from before it): not applied
    assertThat(TestModels.push(m, 0, 2, new float[][] {{5, 5}})).isEqualTo(new PushAck(2, true, 4));
    assertThat(push(m, 1, 0)).isEqualTo(new PushAck(0, true, 4));
    // trainer 1's push 1 was applied after the copy on the first worker: here it is applied once, now
    assertThat(push(m, 1, 1)).isEqualTo(new PushAck(1, false, 5));
    assertThat(push(m, 0, 3)).isEqualTo(new PushAck(3, false, 6));
    assertThat(pull(m, 6)[0]).containsExactly(-4f, -2f);
    assertThat(m.duplicatesReceived()).isEqualTo(2);
    assertThat(m.updatesApplied()).isEqualTo(6);
    ApiException ahead = refused(() -> push(m, 1, 3));
    assertThat(ahead).hasMessage("trainer 1 pushed step 3, but its next step on models/m is 2; pushes of one trainer"
        + " come in order");
  }

  @Test
  void aHoldNotCompletedInTimeEndsByItselfAndAppliesWhatItHeld() throws Exception {
    WorkerModel m = counting();
    push(m, 0, 0);
    assertThat(hold(m, 50)).containsExactly(1, 0);
    CompletableFuture<PushAck> held = pushLater(m, 1, 0);
    assertThat(held.get(10, TimeUnit.SECONDS)).isEqualTo(new PushAck(0, false, 2));
    ApiException late = refused(() -> m.copyAtCut(2, new long[] {1, 1}, root).get(10, TimeUnit.SECONDS));
    assertThat(late.code()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(late).hasMessage("models/m holds no pushes on this worker: HoldPushes first (a hold ends by itself when"
        + " the cut does not follow within the worker's wait)");

    // a cut that is not reached in time fails its copy and lets the pushes go
    hold(m, 50);
    CompletableFuture<ShardCopy> copy = m.copyAtCut(4, new long[] {2, 2}, root);
    ApiException expired = refused(() -> copy.get(10, TimeUnit.SECONDS));
    assertThat(expired.code()).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
    assertThat(expired).hasMessage("the checkpoint's hold on the pushes of models/m ended after 50 ms before the cut"
        + " [2, 2] was reached (next pushes [1, 1]); are all trainers pushing?");
    assertThat(push(m, 0, 1)).isEqualTo(new PushAck(1, false, 3));
  }

  @Test
  void aReleasedHoldAppliesItsPushesAndARepeatedHoldReplacesTheFirst() throws Exception {
    WorkerModel m = counting();
    hold(m, 5000);
    CompletableFuture<PushAck> held = pushLater(m, 0, 0);
    assertThat(held).isNotDone();
    m.releasePushes();
    assertThat(held.get(10, TimeUnit.SECONDS)).isEqualTo(new PushAck(0, false, 1));

    hold(m, 5000);
    CompletableFuture<ShardCopy> first = m.copyAtCut(2, new long[] {2, 0}, root);
    CompletableFuture<PushAck> stillHeld = pushLater(m, 1, 0); // beyond the cut [2, 0]
    assertThat(hold(m, 5000)).containsExactly(1, 0); // a new coordinator's hold replaces the first
    ApiException replaced = refused(() -> first.get(10, TimeUnit.SECONDS));
    assertThat(replaced.code()).isEqualTo(Status.Code.ABORTED);
    assertThat(stillHeld).isNotDone(); // held for the new hold
    Path attempt = CheckpointLayout.create(root, 2, CheckpointPlan.of(List.of(W), List.of())).dir();
    assertThat(m.copyAtCut(2, new long[] {1, 1}, attempt).get(10, TimeUnit.SECONDS).step()).isEqualTo(2);
    assertThat(stillHeld.get(10, TimeUnit.SECONDS)).isEqualTo(new PushAck(0, false, 2));
  }

  @Test
  void aDroppedModelFailsTheHeldPushes() throws Exception {
    WorkerModel m = counting();
    hold(m, 5000);
    CompletableFuture<PushAck> held = pushLater(m, 0, 0);
    m.drop();
    ApiException e = refused(() -> held.get(10, TimeUnit.SECONDS));
    assertThat(e.code()).isEqualTo(Status.Code.NOT_FOUND);
    assertThat(m.version()).isZero();
  }

  @Test
  void refusalsNameWhatIsWrongAndKeepNoHalfTakenCut() throws Exception {
    WorkerModel sync = models.model(SGD, 1, TrainingMode.SYNC, 0, new FakeCoordinator(SGD, List.of("w")), List.of("w"),
        new float[2]);
    assertThat(refused(() -> sync.holdPushes(1000).get(10, TimeUnit.SECONDS))).hasMessage("models/m is SYNC: its"
        + " checkpoints capture a step boundary (SnapshotShards with the step); HoldPushes and next_push are for ASYNC"
        + " models");

    WorkerModel m = counting();
    assertThat(refused(() -> m.snapshotShards(0, root, 1000).get(10, TimeUnit.SECONDS))).hasMessage("models/m is ASYNC: its"
        + " shards are copied at a cut of the trainers' pushes (HoldPushes, then SnapshotShards with next_push), not at"
        + " a step");
    push(m, 0, 0);
    push(m, 0, 1);
    hold(m, 5000);
    ApiException sum = refused(() -> m.copyAtCut(3, new long[] {2, 0}, root).get(10, TimeUnit.SECONDS));
    assertThat(sum.code()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(sum).hasMessage("step 3 is not the sum of next_push [2, 0] (2): an ASYNC checkpoint's step is the pushes"
        + " it captures");
    ApiException length = refused(() -> m.copyAtCut(2, new long[] {2}, root).get(10, TimeUnit.SECONDS));
    assertThat(length.code()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(length).hasMessage("next_push has 1 entries, but models/m has 2 trainers");
    CompletableFuture<PushAck> held = pushLater(m, 1, 0);
    ApiException passed = refused(() -> m.copyAtCut(1, new long[] {1, 0}, root).get(10, TimeUnit.SECONDS));
    assertThat(passed.code()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(passed).hasMessage("trainer 0's pushes on models/m are applied through push 1, beyond the cut [1, 0];"
        + " the hold was lost");
    assertThat(held.get(10, TimeUnit.SECONDS).duplicate()).isFalse(); // the refused cut ended the hold

    WorkerModel accumulating = models.model(Pipeline.parse("sgd(1.0).accumulate(2)"), 2, TrainingMode.ASYNC, 0,
        new FakeCoordinator(SGD, List.of("w")), List.of("w"), new float[2]);
    assertThat(refused(() -> accumulating.holdPushes(1000).get(10, TimeUnit.SECONDS))).hasMessage("models/m"
        + " accumulates 2 pushes per update: an ASYNC checkpoint needs accumulate 1 (a cut could fall inside a window)");
  }
}
