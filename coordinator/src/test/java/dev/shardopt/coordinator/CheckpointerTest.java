package dev.shardopt.coordinator;

import static dev.shardopt.coordinator.ModelRegistryTest.assertApiError;
import static dev.shardopt.coordinator.ModelRegistryTest.finiteStep;
import static dev.shardopt.coordinator.ModelRegistryTest.stat;
import static dev.shardopt.coordinator.ModelRegistryTest.twoWorkerModel;
import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.checkpoint.CheckpointReader;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.rpc.ApiException;
import dev.shardopt.v1.Checkpoint;
import dev.shardopt.v1.CheckpointManifest;
import dev.shardopt.v1.ModelState;
import dev.shardopt.v1.SnapshotShardsResponse;
import dev.shardopt.v1.TrainingMode;
import io.grpc.Status;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointerTest {
  private static final String M = "models/m";
  private static final String A1 = CheckpointCluster.A1;
  private static final String A2 = CheckpointCluster.A2;
  private static final int B = 8192;

  @TempDir
  Path dir;

  private final CheckpointCluster cluster = new CheckpointCluster();
  private final ModelRegistryTest.FakeFleet fleet = cluster.fleet;
  private final ModelRegistry registry = cluster.registry;
  private final Checkpointer checkpointer = cluster.checkpointer;

  @AfterEach
  void stop() throws InterruptedException {
    cluster.close();
  }

  private void create(String pipeline) {
    registry.create("m", twoWorkerModel(pipeline));
  }

  private List<String> entries() throws Exception {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void withoutAtStepTheNextBoundaryIsWrittenWithEveryFileAndTheBoundarysCounters() throws Exception {
    create("adam(0.1)");
    for (long s = 0; s < 3; s++) {
      finiteStep(registry, M, s, 0);
    }
    Checkpoint c = checkpointer.checkpoint(M, dir.toString(), null);

    assertThat(c.getStep()).isEqualTo(3);
    assertThat(c.getModel()).isEqualTo(M);
    assertThat(c.getPath()).isEqualTo(dir.resolve("step-0000000003").toString());
    // a [2, 8192] and b [10, 10], parameters and two Adam slots each, 4 bytes per element
    assertThat(c.getBytes()).isEqualTo(3L * 4 * (2 * B + 100));
    assertThat(fleet.of("snapshot")).extracting(ModelRegistryTest.FakeFleet.Call::address).containsExactlyInAnyOrder(A1, A2);
    assertThat(fleet.of("snapshot")).extracting(ModelRegistryTest.FakeFleet.Call::request).containsOnly(3L);
    assertThat(fleet.of("persist")).extracting(call -> Path.of((String) call.request()).getFileName().toString())
        .allMatch(n -> n.matches("step-0000000003\\.partial-[0-9a-f]{8}"));
    assertThat(entries()).containsExactly("step-0000000003");

    try (CheckpointReader reader = CheckpointReader.open(Path.of(c.getPath()))) {
      reader.verify();
      CheckpointManifest m = reader.manifest();
      assertThat(m.getModelId()).isEqualTo("m");
      assertThat(m.getStep()).isEqualTo(3);
      assertThat(m.getNextStep()).isEqualTo(3);
      assertThat(m.getUpdatesApplied()).isEqualTo(3);
      assertThat(m.getStepsSkipped()).isZero();
      assertThat(m.getTrainers()).isEqualTo(1);
      assertThat(m.getMode()).isEqualTo(TrainingMode.SYNC);
      assertThat(m.getPipelineText()).isEqualTo(Pipeline.parse("adam(0.1)").toString());
      assertThat(m.getPipelineSchedule().getGenerationsCount()).isEqualTo(1);
      assertThat(m.getFilesList()).extracting(f -> f.getTensor() + "/" + f.getSlot())
          .containsExactly("a/", "a/exp_avg", "a/exp_avg_sq", "b/", "b/exp_avg", "b/exp_avg_sq");
      float[] v = reader.readAll("a", "exp_avg_sq");
      assertThat(v[B + 5]).isEqualTo(ModelRegistryTest.FakeFleet.value(0, 2, B + 5)); // w2's half
      assertThat(v[5]).isEqualTo(ModelRegistryTest.FakeFleet.value(0, 2, 5)); // w1's
    }
    // the hold is released: training goes on
    assertThat(finiteStep(registry, M, 3, 0).step()).isEqualTo(3);
    assertThat(registry.get(M).getState()).isEqualTo(ModelState.READY);
  }

  @Test
  void aCheckpointSentAgainAfterItsAnswerWasLostGetsItBackAndAnotherRunsIsAlreadyExists() throws Exception {
    create("adam(0.1)");
    finiteStep(registry, M, 0, 0);
    Checkpoint first = checkpointer.checkpoint(M, dir.toString(), 1L);
    String run = registry.incarnation(M);
    assertThat(run).matches("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
    try (CheckpointReader reader = CheckpointReader.open(Path.of(first.getPath()))) {
      assertThat(reader.manifest().getModelIncarnation()).isEqualTo(run);
    }
    finiteStep(registry, M, 1, 0);
    finiteStep(registry, M, 2, 0); // step 1 is passed now: a new checkpoint of it could not be taken
    int snapshots = fleet.of("snapshot").size();

    Checkpoint again = checkpointer.checkpoint(M, dir.toString(), 1L);
    assertThat(again.getPath()).isEqualTo(first.getPath());
    assertThat(again.getStep()).isEqualTo(1);
    assertThat(again.getBytes()).isEqualTo(first.getBytes()).isEqualTo(3L * 4 * (2 * B + 100));
    assertThat(fleet.of("snapshot")).hasSize(snapshots); // nothing written again
    assertThat(entries()).containsExactly("step-0000000001");

    registry.delete(M); // another run of a model of the same name, into the same directory
    create("adam(0.1)");
    assertThat(registry.incarnation(M)).isNotEqualTo(run);
    finiteStep(registry, M, 0, 0);
    assertApiError(() -> checkpointer.checkpoint(M, dir.toString(), 1L), Status.Code.ALREADY_EXISTS)
        .hasMessageContaining("a checkpoint of step 1 already exists");
    try (CheckpointReader reader = CheckpointReader.open(Path.of(first.getPath()))) {
      assertThat(reader.manifest().getModelIncarnation()).isEqualTo(run); // left as it was
    }
    assertThat(finiteStep(registry, M, 1, 0).step()).isEqualTo(1); // and training goes on
  }

  @Test
  void aReplicatedModelIsCheckpointedFromTheCopiesThatAnswerWhenOneWorkerCannotBeReached() throws Exception {
    String a3 = "host3:7003";
    cluster.workers.register(a3);
    registry.create("m", twoWorkerModel("adam(0.1)").toBuilder().setReplicas(2).build());
    fleet.failSnapshotOn.put(A2, ApiException.unavailable("worker " + A2 + " is gone"));

    Checkpoint c = checkpointer.checkpoint(M, dir.toString(), null);
    assertThat(c.getStep()).isZero();
    assertThat(c.getBytes()).isEqualTo(3L * 4 * (2 * B + 100)); // every range once, from w1 and w3
    assertThat(fleet.of("persist")).extracting(ModelRegistryTest.FakeFleet.Call::address)
        .containsExactlyInAnyOrder(A1, a3);
    try (CheckpointReader reader = CheckpointReader.open(Path.of(c.getPath()))) {
      reader.verify();
      float[] v = reader.readAll("a", "exp_avg");
      assertThat(v[B + 5]).isEqualTo(ModelRegistryTest.FakeFleet.value(0, 1, B + 5)); // w2's range, from w3
      assertThat(reader.readAll("b", "")[7]).isEqualTo(ModelRegistryTest.FakeFleet.value(1, 0, 7));
    }

    // any other failure, or two copies of a range lost, fails it
    fleet.failSnapshotOn.put(A2, new ApiException(Status.Code.INTERNAL, "worker " + A2 + ": disk on fire"));
    assertApiError(() -> checkpointer.checkpoint(M, dir.resolve("x").toString(), null), Status.Code.INTERNAL)
        .hasMessageContaining("disk on fire");
    fleet.failSnapshotOn.put(A2, ApiException.unavailable("worker " + A2 + " is gone"));
    fleet.failSnapshotOn.put(a3, ApiException.unavailable("worker " + a3 + " is gone"));
    assertApiError(() -> checkpointer.checkpoint(M, dir.resolve("y").toString(), null), Status.Code.UNAVAILABLE)
        .hasMessageContaining("is gone");
  }

  @Test
  void anAccumulatingModelIsCheckpointedAtTheStartOfItsFirstUndecidedWindowAndOnlyAtMultiplesOfAccumulate() {
    create("sgd(0.1).accumulate(2)");
    finiteStep(registry, M, 1, 0); // the window of steps 0 and 1

    assertApiError(() -> checkpointer.checkpoint(M, dir.toString(), 3L), Status.Code.INVALID_ARGUMENT)
        .hasMessageContaining("at_step 3").hasMessageContaining("accumulate 2").hasMessageContaining("choose 2 or 4");
    Checkpoint c = checkpointer.checkpoint(M, dir.toString(), null);
    assertThat(c.getStep()).isEqualTo(2);
    // the held step was 3, the last of the window: it decides now
    assertThat(finiteStep(registry, M, 3, 0).step()).isEqualTo(3);
    assertApiError(() -> checkpointer.checkpoint(M, dir.resolve("other").toString(), 2L),
        Status.Code.FAILED_PRECONDITION)
        .hasMessageContaining("the cluster has passed step 2").hasMessageContaining("choose at_step 4 or later");
    // the checkpoint of step 2 this run committed: asked again (its answer lost), it is the answer
    assertThat(checkpointer.checkpoint(M, dir.toString(), 2L).getPath()).isEqualTo(c.getPath());
  }

  @Test
  void refusalsNameWhatIsWrongAndCallNoWorker() throws Exception {
    create("sgd(0.1)");
    registry.create("async", twoWorkerModel("sgd(0.1)").toBuilder().setMode(TrainingMode.ASYNC).build());
    for (long s = 0; s < 3; s++) {
      finiteStep(registry, M, s, 0);
    }
    assertApiError(() -> checkpointer.checkpoint("models/nope", dir.toString(), null), Status.Code.NOT_FOUND)
        .hasMessageContaining("models/nope not found");
    assertApiError(() -> checkpointer.checkpoint(M, " ", null), Status.Code.INVALID_ARGUMENT)
        .hasMessageContaining("directory is empty");
    assertApiError(() -> checkpointer.checkpoint(M, "ckpt/run1", null), Status.Code.INVALID_ARGUMENT)
        .hasMessageContaining("directory 'ckpt/run1' is relative");
    assertApiError(() -> checkpointer.checkpoint(M, dir.toString(), 10_000_000_000L), Status.Code.INVALID_ARGUMENT)
        .hasMessageContaining("at_step 10000000000 is out of range");
    assertApiError(() -> checkpointer.checkpoint("models/async", dir.toString(), 2L), Status.Code.INVALID_ARGUMENT)
        .hasMessageContaining("at_step is for SYNC models: models/async is ASYNC");
    assertApiError(() -> checkpointer.checkpoint(M, dir.toString(), 1L), Status.Code.FAILED_PRECONDITION)
        .hasMessageContaining("the cluster has passed step 1").hasMessageContaining("choose at_step 3 or later");

    assertThat(fleet.of("snapshot")).isEmpty();
    assertThat(fleet.of("hold")).isEmpty();
    assertThat(entries()).isEmpty();
    // no refusal left a hold: step 3 decides
    assertThat(finiteStep(registry, M, 3, 0).step()).isEqualTo(3);
  }

  @Test
  void theHeldStepIsDecidedOnlyOnceEverySnapshotAnsweredAndBeforeAnyWorkerWrites() throws Exception {
    create("sgd(0.1)");
    finiteStep(registry, M, 0, 0);
    finiteStep(registry, M, 1, 0);
    List<String> events = new CopyOnWriteArrayList<>();
    CountDownLatch bothSnapshotting = new CountDownLatch(2);
    CountDownLatch answer = new CountDownLatch(1);
    fleet.beforeSnapshotAnswer = address -> {
      bothSnapshotting.countDown();
      await(answer);
      events.add("snapshotted " + address);
    };
    CompletableFuture<Checkpoint> running = CompletableFuture.supplyAsync(() -> checkpointer.checkpoint(M,
        dir.toString(), null));
    assertThat(bothSnapshotting.await(5, TimeUnit.SECONDS)).isTrue();

    // Both workers report the held step 2 while the snapshots have not answered: the round is kept.
    RecordingReply w1 = new RecordingReply();
    RecordingReply w2 = new RecordingReply();
    StepBarrier.Reply logged = new StepBarrier.Reply() {
      @Override
      public void decided(DecidedStep d) {
        events.add("decided " + d.step() + " after " + fleet.of("persist").size() + " persist calls");
        w2.decided(d);
      }

      @Override
      public void failed(ApiException e) {
        w2.failed(e);
      }
    };
    registry.reportStep(M, "workers/w1", 2, 0, List.of(stat(0, 0, 0.0625)), w1);
    registry.reportStep(M, "workers/w2", 2, 0, List.of(stat(0, 1, 0.1875), stat(1, 0, 0.0)), logged);
    assertThat(w1.answered()).isFalse(); // the hold cannot end before `answer` opens
    assertThat(w2.answered()).isFalse();

    answer.countDown();
    assertThat(w2.decision().step()).isEqualTo(2);
    assertThat(w1.decision()).isSameAs(w2.decision());
    assertThat(running.get(5, TimeUnit.SECONDS).getStep()).isEqualTo(2);
    assertThat(events.subList(0, 2)).containsExactlyInAnyOrder("snapshotted " + A1, "snapshotted " + A2);
    // and right after: before the workers were asked to write
    assertThat(events.get(2)).isEqualTo("decided 2 after 0 persist calls");
    assertThat(registry.metrics(M, 2).getSteps(0).getStep()).isEqualTo(2);
  }

  @Test
  void aSecondCheckpointOfTheModelWhileOneRunsIsRefused() throws Exception {
    create("sgd(0.1)");
    CountDownLatch snapshotting = new CountDownLatch(1);
    CountDownLatch answer = new CountDownLatch(1);
    fleet.beforeSnapshotAnswer = address -> {
      snapshotting.countDown();
      await(answer);
    };
    CompletableFuture<Checkpoint> first = CompletableFuture.supplyAsync(() -> checkpointer.checkpoint(M,
        dir.toString(), null));
    assertThat(snapshotting.await(5, TimeUnit.SECONDS)).isTrue();
    assertApiError(() -> checkpointer.checkpoint(M, dir.resolve("other").toString(), 5L), Status.Code.FAILED_PRECONDITION)
        .hasMessageContaining("a checkpoint of models/m is already running");
    answer.countDown();
    assertThat(first.get(5, TimeUnit.SECONDS).getStep()).isZero();
    // the same step again, no step since: the complete checkpoint this run wrote is the answer, and
    // nothing is written again or left held
    int snapshots = fleet.of("snapshot").size();
    Checkpoint again = checkpointer.checkpoint(M, dir.toString(), null);
    assertThat(again.getStep()).isZero();
    assertThat(again.getPath()).isEqualTo(dir.resolve("step-0000000000").toString());
    assertThat(fleet.of("snapshot")).hasSize(snapshots);
    assertThat(finiteStep(registry, M, 0, 0).step()).isZero();
  }

  @Test
  void aWorkerFailingItsSnapshotFailsTheCheckpointWithItsCodeAndTrainingGoesOn() throws Exception {
    create("sgd(0.1)");
    finiteStep(registry, M, 0, 0);
    fleet.failSnapshotOn.put(A2, ApiException.unavailable("worker " + A2 + " could not snapshot: connection refused"));

    assertApiError(() -> checkpointer.checkpoint(M, dir.toString(), null), Status.Code.UNAVAILABLE)
        .hasMessageContaining("checkpoint of models/m at step 1 failed")
        .hasMessageContaining("worker host2:7002 could not snapshot: connection refused");
    assertThat(fleet.of("persist")).isEmpty();
    assertThat(entries()).isEmpty(); // the attempt is deleted
    assertThat(registry.get(M).getState()).isEqualTo(ModelState.READY);
    assertThat(finiteStep(registry, M, 1, 0).step()).isEqualTo(1);
  }

  @Test
  void aWorkerFailingToWriteFailsTheCheckpointWithItsCodeAndLeavesNoCheckpoint() throws Exception {
    create("sgd(0.1)");
    fleet.failPersistOn.put(A1, new ApiException(Status.Code.RESOURCE_EXHAUSTED,
        "worker " + A1 + " could not write a.npy: No space left on device"));

    assertApiError(() -> checkpointer.checkpoint(M, dir.toString(), null), Status.Code.RESOURCE_EXHAUSTED)
        .hasMessageContaining("checkpoint of models/m at step 0 failed")
        .hasMessageContaining("worker host1:7001 could not write a.npy: No space left on device");
    assertThat(entries()).isEmpty();
    assertThat(registry.get(M).getState()).isEqualTo(ModelState.READY);
    assertThat(finiteStep(registry, M, 0, 0).step()).isZero();
    // a retry at the same step succeeds once the disk has room
    fleet.failPersistOn.clear();
    assertThat(checkpointer.checkpoint(M, dir.toString(), null).getStep()).isEqualTo(1);
  }

  private void createAsync(String pipeline, int trainers) {
    registry.create("m", twoWorkerModel(pipeline).toBuilder().setMode(TrainingMode.ASYNC).setTrainers(trainers).build());
  }

  @Test
  void anAsyncCheckpointIsTakenAtTheHighestNextPushOfEachTrainerAndItsManifestHoldsTheCut() throws Exception {
    createAsync("adam(0.1)", 3);
    registry.updatePipeline(M, Pipeline.parse("adam(0.05)").toProto(), 4);
    fleet.nextPushes.put(A1, List.of(7L, 2L, 5L));
    fleet.nextPushes.put(A2, List.of(6L, 3L, 5L));

    Checkpoint c = checkpointer.checkpoint(M, dir.toString(), null);

    assertThat(c.getNextPushList()).containsExactly(7L, 3L, 5L);
    assertThat(c.getStep()).isEqualTo(15);
    assertThat(c.getPath()).isEqualTo(dir.resolve("step-0000000015").toString());
    // every worker holds before any is given the cut, and every copy is taken before any write (each
    // phase calls the workers at once, in any order)
    assertThat(fleet.calls).extracting(ModelRegistryTest.FakeFleet.Call::kind)
        .containsExactly("create", "create", "hold", "hold", "cut", "cut", "persist", "persist");
    for (String phase : List.of("hold", "cut", "persist")) {
      assertThat(fleet.of(phase)).extracting(ModelRegistryTest.FakeFleet.Call::address).containsExactlyInAnyOrder(A1, A2);
    }
    assertThat(fleet.of("cut")).extracting(ModelRegistryTest.FakeFleet.Call::request).containsOnly(List.of(7L, 3L, 5L));
    try (CheckpointReader reader = CheckpointReader.open(Path.of(c.getPath()))) {
      reader.verify();
      CheckpointManifest m = reader.manifest();
      assertThat(m.getMode()).isEqualTo(TrainingMode.ASYNC);
      assertThat(m.getTrainers()).isEqualTo(3);
      assertThat(m.getStep()).isEqualTo(15);
      assertThat(m.getNextPushList()).containsExactly(7L, 3L, 5L);
      assertThat(m.getNextStep()).isZero();
      assertThat(m.getUpdatesApplied()).isEqualTo(5); // the copies' counters
      assertThat(m.getStepsSkipped()).isEqualTo(1);
      // in force at the lowest next push, 3 (the change comes at 4), and the whole schedule
      assertThat(m.getPipelineText()).isEqualTo(Pipeline.parse("adam(0.1)").toString());
      assertThat(m.getPipelineSchedule().getGenerationsList()).extracting(g -> g.getFromStep()).containsExactly(0L, 4L);
      assertThat(m.getFilesList()).extracting(f -> f.getTensor() + "/" + f.getSlot())
          .containsExactly("a/", "a/exp_avg", "a/exp_avg_sq", "b/", "b/exp_avg", "b/exp_avg_sq");
    }
  }

  @Test
  void anAsyncCheckpointRefusesAccumulationAndWorkersThatDisagreeAndReleasesTheHoldsOfAFailedCut() throws Exception {
    registry.create("acc", twoWorkerModel("sgd(0.1).accumulate(2)").toBuilder().setMode(TrainingMode.ASYNC).build());
    assertApiError(() -> checkpointer.checkpoint("models/acc", dir.toString(), null), Status.Code.FAILED_PRECONDITION)
        .hasMessageContaining("models/acc is ASYNC and accumulates 2 pushes per update")
        .hasMessageContaining("needs accumulate 1");
    assertThat(fleet.of("hold")).isEmpty();

    createAsync("sgd(0.1)", 2);
    fleet.nextPushes.put(A1, List.of(4L, 4L));
    fleet.nextPushes.put(A2, List.of(4L, 3L));
    fleet.cutCopy.put(A2, SnapshotShardsResponse.newBuilder().setUpdatesApplied(7).setStepsSkipped(1).build());
    assertApiError(() -> checkpointer.checkpoint(M, dir.toString(), null), Status.Code.INTERNAL)
        .hasMessageContaining("checkpoint of models/m at step 8 failed: the workers' copies at the cut [4, 4] disagree:"
            + " host1:7001 has 5 updates applied and 1 skipped, host2:7002 7 and 1");
    assertThat(fleet.of("persist")).isEmpty();
    assertThat(entries()).isEmpty();

    fleet.cutCopy.clear();
    fleet.failSnapshotOn.put(A1, ApiException.deadlineExceeded("worker " + A1 + " could not snapshot: the hold ended"));
    assertApiError(() -> checkpointer.checkpoint(M, dir.toString(), null), Status.Code.DEADLINE_EXCEEDED)
        .hasMessageContaining("checkpoint of models/m at step 8 failed: worker host1:7001 could not snapshot: the hold"
            + " ended");
    assertThat(fleet.of("release")).extracting(ModelRegistryTest.FakeFleet.Call::address).containsExactly(A1, A2);
    assertThat(entries()).isEmpty(); // the attempt, created before the copies, is deleted

    fleet.failSnapshotOn.clear();
    fleet.nextPushes.put(A2, List.of(4L)); // a worker that answers for another number of trainers
    assertApiError(() -> checkpointer.checkpoint(M, dir.toString(), null), Status.Code.INTERNAL)
        .hasMessageContaining("worker host2:7002 answered 1 next pushes for the 2 trainers of models/m");
    assertThat(fleet.of("release")).hasSize(4);
    assertThat(entries()).isEmpty();
  }

  private static void await(CountDownLatch latch) {
    try {
      assertThat(latch.await(5, TimeUnit.SECONDS)).isTrue();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }
}
