package dev.shardopt.coordinator;

import static dev.shardopt.coordinator.ModelRegistryTest.assertApiError;
import static dev.shardopt.coordinator.ModelRegistryTest.stat;
import static dev.shardopt.coordinator.ModelRegistryTest.twoWorkerModel;
import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.engine.BlockStatistics;
import dev.shardopt.v1.HeartbeatRequest;
import dev.shardopt.v1.Model;
import dev.shardopt.v1.ModelState;
import dev.shardopt.v1.Shard;
import dev.shardopt.v1.ShardMap;
import io.grpc.Status;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Replicated models on the coordinator: each shard's statistics count once, copies that differ stop
 * the model, and a worker that misses its heartbeats past the failure timeout (500 ms x 6 here) is
 * declared dead: its backups take over and the step in flight is decided without it, or, with no
 * other copy, the model fails naming what is lost.
 */
class FailoverTest {
  private static final String A1 = "host1:7001";
  private static final String A2 = "host2:7002";
  private static final String A3 = "host3:7003";
  private static final String M = "models/m";

  private final AtomicLong now = new AtomicLong(1_000_000);
  /** Set to make the clock jump by this much right after its next reading: the coordinator paused there. */
  private final AtomicLong pauseAfterNextReading = new AtomicLong();
  private final WorkerRegistry workers = new WorkerRegistry(500, 6, () -> {
    long t = now.get();
    now.addAndGet(pauseAfterNextReading.getAndSet(0));
    return t;
  });
  private final ModelRegistryTest.FakeFleet fleet = new ModelRegistryTest.FakeFleet();
  private ScheduledExecutorService timer;
  private ModelRegistry registry;
  private FailureDetector detector;
  private final List<String> observed = new java.util.concurrent.CopyOnWriteArrayList<>();

  @BeforeEach
  void start() {
    timer = Executors.newSingleThreadScheduledExecutor();
    registry = new ModelRegistry(workers, fleet, timer, CoordinatorConfig.defaults(), ScheduleLockHooks.NONE,
        () -> 42_000_000_000L, CoordinatorStateStore.none(), new CoordinatorObserver() {
          @Override
          public void failedOver(String model, String worker, long epoch, int minLiveCopies) {
            observed.add(model + " " + worker + " epoch " + epoch + " copies " + minLiveCopies);
          }

          @Override
          public void copiesAdded(String model, String worker, int copies, long epoch, int minLiveCopies) {
            observed.add(model + " " + copies + " copied to " + worker + " epoch " + epoch + " copies " + minLiveCopies);
          }
        });
    detector = new FailureDetector(registry, workers);
  }

  @AfterEach
  void stop() throws InterruptedException {
    timer.shutdownNow();
    assertThat(timer.awaitTermination(5, TimeUnit.SECONDS)).isTrue();
  }

  /**
   * "a" [2, 8192] and "b" [10, 10]: 3 blocks on 3 workers, w1 a[0, 8192), w2 a[8192, 16384), w3 b;
   * with 2 replicas the backups are a[0, 8192) on w2, a[8192, 16384) on w3 and b on w1.
   */
  private void threeWorkersTwoCopies(String pipeline) {
    for (String a : List.of(A1, A2, A3)) {
      workers.register(a);
    }
    registry.create("m", twoWorkerModel(pipeline).toBuilder().setReplicas(2).build());
  }

  private static final BlockStatistics A0 = stat(0, 0, 0.25);
  private static final BlockStatistics A1_BLOCK = stat(0, 1, 0.5);
  private static final BlockStatistics B0 = stat(1, 0, 0.25);

  private void beat(String... names) {
    for (String n : names) {
      workers.heartbeat(HeartbeatRequest.newBuilder().setWorker(n).build());
    }
  }

  @Test
  void theCopiesArePlacedOnDifferentWorkersAndEachShardsStatisticsCountOnce() {
    threeWorkersTwoCopies("sgd(0.1).clipNorm(2.0)");
    ShardMap map = registry.shardMap(M);
    assertThat(map.getShardsList()).extracting(s -> s.getTensor() + "@" + s.getOffset() + " " + s.getReplica() + " "
        + s.getWorker()).containsExactly(
            "a@0 0 workers/w1", "a@0 1 workers/w2",
            "a@8192 0 workers/w2", "a@8192 1 workers/w3",
            "b@0 0 workers/w3", "b@0 1 workers/w1");
    RecordingReply r1 = new RecordingReply();
    RecordingReply r2 = new RecordingReply();
    RecordingReply r3 = new RecordingReply();
    registry.reportStep(M, "workers/w1", 0, 0, List.of(A0, B0), r1);
    registry.reportStep(M, "workers/w2", 0, 0, List.of(A0, A1_BLOCK), r2);
    assertThat(r1.answered()).as("waits for w3").isFalse();
    registry.reportStep(M, "workers/w3", 0, 0, List.of(A1_BLOCK, B0), r3);
    // 0.25 + 0.5 + 0.25 = 1: each shard once (twice would be 2, a norm of sqrt(2))
    assertThat(r1.decision().decision().gradientNorm()).isEqualTo(1.0);
    assertThat(r3.decision()).isSameAs(r1.decision());
  }

  @Test
  void aReportNamingAShardTwiceOrATensorOutsideTheModelIsInvalidNotADivergence() {
    threeWorkersTwoCopies("sgd(0.1)");
    // a fuzzing finding: the same block twice in one report was taken for two copies that differ
    assertApiError(() -> registry.reportStep(M, "workers/w1", 0, 0, List.of(A0, stat(0, 0, 0.5)), new RecordingReply()),
        Status.Code.INVALID_ARGUMENT)
        .hasMessage("workers/w1 reported statistics of tensor 0 from block 0 of models/m twice in one report");
    assertApiError(() -> registry.reportStep(M, "workers/w1", 0, 0, List.of(stat(-1, 0, 0.5)), new RecordingReply()),
        Status.Code.INVALID_ARGUMENT)
        .hasMessageContaining("statistics of tensor 4294967295 from block 0 of models/m, which has 2 tensors");
    RecordingReply r1 = new RecordingReply(); // nothing was taken: the step goes on as usual
    registry.reportStep(M, "workers/w1", 0, 0, List.of(A0, B0), r1);
    registry.reportStep(M, "workers/w2", 0, 0, List.of(A0, A1_BLOCK), new RecordingReply());
    registry.reportStep(M, "workers/w3", 0, 0, List.of(A1_BLOCK, B0), new RecordingReply());
    assertThat(r1.decision().decision().gradientNorm()).isEqualTo(1.0);
  }

  @Test
  void copiesWhoseStatisticsDifferStopTheModel() {
    threeWorkersTwoCopies("sgd(0.1)");
    RecordingReply r1 = new RecordingReply();
    registry.reportStep(M, "workers/w1", 0, 0, List.of(A0, B0), r1);
    registry.reportStep(M, "workers/w2", 0, 0, List.of(stat(0, 0, 0.26), A1_BLOCK), new RecordingReply());
    registry.reportStep(M, "workers/w3", 0, 0, List.of(A1_BLOCK, B0), new RecordingReply());
    assertThat(r1.failure().code()).isEqualTo(Status.Code.INTERNAL);
    assertThat(r1.failure()).hasMessageContaining("step 0 of models/m: the copies of the shard of tensor 0 from block 0"
        + " differ: workers/w1 reported sums [0.25], workers/w2 sums [0.26]");
    RecordingReply later = new RecordingReply();
    registry.reportStep(M, "workers/w1", 1, 0, List.of(A0, B0), later);
    assertThat(later.failure().code()).isEqualTo(Status.Code.INTERNAL); // stopped
  }

  @Test
  void aWorkerThatStopsBeatingIsDeclaredDeadItsBackupsTakeOverAndTheStepInFlightIsDecided() {
    threeWorkersTwoCopies("sgd(0.1)");
    RecordingReply r1 = new RecordingReply();
    RecordingReply r2 = new RecordingReply();
    registry.reportStep(M, "workers/w1", 0, 0, List.of(A0, B0), r1);
    registry.reportStep(M, "workers/w2", 0, 0, List.of(A0, A1_BLOCK), r2);
    now.addAndGet(2_000);
    beat("workers/w1", "workers/w2");
    assertThat(detector.check()).as("w3 is 2 s late, within the 3 s failure timeout").isEmpty();
    now.addAndGet(1_500);
    beat("workers/w1", "workers/w2");

    assertThat(detector.check()).containsExactly(
        "failover: models/m: workers/w3 declared dead; its shards' backups took over (epoch 1)");
    // the step in flight: w1's copy of b stands for w3's
    assertThat(r1.decision().decision().gradientNorm()).isEqualTo(1.0);
    assertThat(r2.decision()).isSameAs(r1.decision());
    ShardMap map = registry.shardMap(M);
    assertThat(map.getEpoch()).isEqualTo(1);
    assertThat(map.getShardsList()).extracting(s -> s.getTensor() + "@" + s.getOffset() + " " + s.getReplica() + " "
        + s.getWorker()).containsExactly(
            "a@0 0 workers/w1", "a@0 1 workers/w2", "a@8192 0 workers/w2", "b@0 0 workers/w1");
    Model m = registry.get(M);
    assertThat(m.getState()).isEqualTo(ModelState.READY);
    assertThat(m.getReplication().getEpoch()).isEqualTo(1);
    assertThat(m.getReplication().getMinLiveCopies()).isEqualTo(1);
    assertThat(m.getReplication().getUnderReplicatedShards()).isEqualTo(2);
    assertThat(m.getReplication().getLostWorkersList()).containsExactly("workers/w3");
    assertThat(observed).containsExactly("models/m workers/w3 epoch 1 copies 1"); // the metrics' event

    // the next step needs w1 and w2 only; w3, back from a pause, is fenced off
    RecordingReply late = new RecordingReply();
    registry.reportStep(M, "workers/w3", 1, 0, List.of(A1_BLOCK, B0), late);
    assertThat(late.failure().code()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(late.failure()).hasMessageContaining("workers/w3 is fenced off models/m: workers/w3 was declared dead");
    RecordingReply n1 = new RecordingReply();
    registry.reportStep(M, "workers/w1", 1, 0, List.of(A0, B0), n1);
    registry.reportStep(M, "workers/w2", 1, 0, List.of(A0, A1_BLOCK), new RecordingReply());
    assertThat(n1.decision().step()).isEqualTo(1);
    assertThat(detector.check()).isEmpty(); // declared once
  }

  /**
   * A worker back from a partition (issue 9 §2, "a stale worker never corrupts the model"): its first
   * heartbeat after it was declared dead is answered with the models it is fenced off and why, so
   * that it stops serving them at once, before it reports a step (a worker cut off between two steps
   * has none to report, and would answer pulls of the version it had). The live workers are told
   * nothing, and a model the coordinator does not know is not named.
   */
  @Test
  void aWorkerBackFromAPartitionIsToldAtItsNextHeartbeatWhichModelsItIsFencedOff() {
    threeWorkersTwoCopies("sgd(0.1)");
    assertThat(registry.fencedOff("workers/w3", List.of(M))).as("before the partition").isEmpty();
    now.addAndGet(3_500);
    beat("workers/w1", "workers/w2");
    assertThat(detector.check()).containsExactly(
        "failover: models/m: workers/w3 declared dead; its shards' backups took over (epoch 1)");

    assertThat(registry.fencedOff("workers/w3", List.of(M, "models/gone"))).containsExactly(Map.entry(M,
        "workers/w3 is fenced off models/m: workers/w3 was declared dead (it missed its heartbeats for 3000 ms) and"
            + " the copies of its shards on other workers took over; it must drop its shards of the model"));
    assertThat(registry.fencedOff("workers/w1", List.of(M))).isEmpty();
    // the same words as a refused step report
    RecordingReply late = new RecordingReply();
    registry.reportStep(M, "workers/w3", 0, 0, List.of(A1_BLOCK, B0), late);
    assertThat(late.failure()).hasMessage(registry.fencedOff("workers/w3", List.of(M)).get(M));
  }

  /**
   * The chaos suite's SIGSTOP of the coordinator: checks every 500 ms, then none for 4 s (the
   * coordinator paused), during which nobody's heartbeat was heard. The first check after it declares
   * nobody dead; a worker that stays silent a whole failure timeout after it is declared dead then.
   */
  @Test
  void aCoordinatorThatWasPausedDeclaresNobodyDeadForTheSilenceOfItsOwnPause() {
    threeWorkersTwoCopies("sgd(0.1)");
    assertThat(detector.check()).isEmpty();
    now.addAndGet(500);
    beat("workers/w1", "workers/w2", "workers/w3");
    assertThat(detector.check()).isEmpty();
    now.addAndGet(4_000); // paused: > the 3 s failure timeout since every last heartbeat
    assertThat(workers.beating("workers/w1")).isFalse();
    assertThat(detector.check()).as("its own pause is no evidence").isEmpty();
    assertThat(registry.shardMap(M).getEpoch()).isZero();
    assertThat(registry.get(M).getReplication().getLostWorkersList()).isEmpty();
    for (int i = 0; i < 6; i++) { // 3 s of checks; w1 and w2 beat, w3 stays silent
      now.addAndGet(500);
      beat("workers/w1", "workers/w2");
      assertThat(detector.check()).as("within the failure timeout after the pause, check %d", i).isEmpty();
    }
    now.addAndGet(500);
    beat("workers/w1", "workers/w2");
    assertThat(detector.check()).containsExactly(
        "failover: models/m: workers/w3 declared dead; its shards' backups took over (epoch 1)");
  }

  @Test
  void aPauseInTheMiddleOfACheckDeclaresNobodyDead() {
    threeWorkersTwoCopies("sgd(0.1)");
    now.addAndGet(500);
    beat("workers/w1", "workers/w2", "workers/w3");
    assertThat(detector.check()).isEmpty();
    now.addAndGet(500);
    pauseAfterNextReading.set(4_000); // the check reads the clock, then the coordinator sleeps 4 s
    assertThat(detector.check()).as("the pause fell after the check read the time").isEmpty();
    assertThat(workers.beating("workers/w1")).as("4.5 s since the last heartbeat, by the clock now").isFalse();
    assertThat(detector.check()).as("the next check sees the pause in its gap").isEmpty();
    for (int i = 0; i < 7; i++) {
      now.addAndGet(500);
      beat("workers/w1", "workers/w2", "workers/w3");
      assertThat(detector.check()).as("check %d after the pause", i).isEmpty();
    }
    assertThat(registry.shardMap(M).getEpoch()).isZero();
  }

  @Test
  void aRestartedCoordinatorGivesTheWorkersItKnewTimeToFindItBeforeDeclaringOneDead(
      @org.junit.jupiter.api.io.TempDir java.nio.file.Path stateDir) {
    CoordinatorStateStore before = CoordinatorStateStore.open(stateDir);
    WorkerRegistry first = new WorkerRegistry(500, 6, now::get, before);
    ModelRegistry running = new ModelRegistry(first, fleet, timer, CoordinatorConfig.defaults(), ScheduleLockHooks.NONE,
        () -> 42_000_000_000L, before);
    for (String a : List.of(A1, A2, A3)) {
      first.register(a);
    }
    running.create("m", twoWorkerModel("sgd(0.1)").toBuilder().setReplicas(2).build());

    // the coordinator is killed and restarted on its state dir
    CoordinatorStateStore reopened = CoordinatorStateStore.open(stateDir);
    WorkerRegistry restartedWorkers = new WorkerRegistry(500, 6, now::get, reopened);
    ModelRegistry restarted = new ModelRegistry(restartedWorkers, fleet, timer, CoordinatorConfig.defaults(),
        ScheduleLockHooks.NONE, () -> 42_000_000_000L, reopened);
    FailureDetector afterRestart = new FailureDetector(restarted, restartedWorkers);
    assertThat(afterRestart.restartGraceMillis()).isEqualTo(10_000);
    assertThat(afterRestart.check()).isEmpty();
    for (int i = 0; i < 19; i++) { // 9.5 s: w1 finds the new coordinator at once, w2 after 4 s, w3 never
      now.addAndGet(500);
      restartedWorkers.heartbeat(HeartbeatRequest.newBuilder().setWorker("workers/w1").build());
      if (i >= 7) {
        restartedWorkers.heartbeat(HeartbeatRequest.newBuilder().setWorker("workers/w2").build());
      }
      assertThat(afterRestart.check()).as("within the restart grace, check %d", i).isEmpty();
    }
    assertThat(restartedWorkers.awaitingFirstBeat("workers/w3")).isTrue();
    assertThat(restartedWorkers.awaitingFirstBeat("workers/w2")).isFalse();
    now.addAndGet(500);
    restartedWorkers.heartbeat(HeartbeatRequest.newBuilder().setWorker("workers/w1").build());
    restartedWorkers.heartbeat(HeartbeatRequest.newBuilder().setWorker("workers/w2").build());
    assertThat(afterRestart.check()).containsExactly(
        "failover: models/m: workers/w3 declared dead; its shards' backups took over (epoch 1)");
  }

  @Test
  void withNoOtherCopyTheModelFailsNamingTheLostShardsAndItsLatestCheckpoint() {
    workers.register(A1);
    workers.register(A2);
    registry.create("m", twoWorkerModel("sgd(0.1)"));
    registry.checkpointCommitted(M, "/ckpt/step-0000000005");
    RecordingReply waiting = new RecordingReply();
    registry.reportStep(M, "workers/w1", 0, 0, List.of(A0), waiting);
    now.addAndGet(3_500);
    beat("workers/w1");

    assertThat(detector.check()).containsExactly("models/m failed: workers/w2 was declared dead and 2 shards of"
        + " models/m had no other copy: [a[8192, 16384), b[0, 100)] (the model has 1 replica; create it with replicas"
        + " >= 2 to survive this); its latest checkpoint is /ckpt/step-0000000005 (CreateModel with restore_from)");
    assertThat(waiting.failure().code()).isEqualTo(Status.Code.UNAVAILABLE);
    Model m = registry.get(M);
    assertThat(m.getState()).isEqualTo(ModelState.FAILED);
    assertThat(m.getFailure()).contains("its latest checkpoint is /ckpt/step-0000000005");
    assertThat(registry.shardMap(M).getEpoch()).isZero();
  }

  @Test
  void replicasAreRefusedWithFewerWorkersAndForAsyncModels() {
    workers.register(A1);
    workers.register(A2);
    assertApiError(() -> registry.create("m", twoWorkerModel("sgd(0.1)").toBuilder().setReplicas(3).build()),
        Status.Code.FAILED_PRECONDITION)
        .hasMessage("models/m asks for 3 replicas, each on a different worker, but 2 workers are healthy"
            + " [workers/w1, workers/w2]; start more workers or ask for fewer replicas");
    assertApiError(() -> registry.create("m", twoWorkerModel("sgd(0.1)").toBuilder().setReplicas(2)
        .setMode(dev.shardopt.v1.TrainingMode.ASYNC).setTrainers(2).build()), Status.Code.INVALID_ARGUMENT)
        .hasMessageContaining("model.replicas 2 needs a SYNC model");
    assertApiError(() -> registry.create("m", twoWorkerModel("sgd(0.1)").toBuilder().setReplicas(17).build()),
        Status.Code.INVALID_ARGUMENT).hasMessage("model.replicas must be in [1, 16], got 17");
    assertThat(registry.list()).isEmpty();
  }

  // ---------------------------------------------------------------- re-replication

  private static final String A4 = "host4:7004";

  /** Steps 0 and 1 decided by w1 and w3 (w2 lost before them). */
  private void twoStepsWithoutW2() {
    for (long step = 0; step < 2; step++) {
      RecordingReply r = new RecordingReply();
      registry.reportStep(M, "workers/w1", step, 0, List.of(A0, B0), r);
      registry.reportStep(M, "workers/w3", step, 0, List.of(A1_BLOCK, B0), new RecordingReply());
      assertThat(r.answered()).as("step %s decided by w1 and w3", step).isTrue();
    }
  }

  @Test
  void aWorkerThatJoinsIsPlannedACopyOfEveryRangeALostWorkerHeldFromTheRangesPrimary() {
    threeWorkersTwoCopies("sgd(0.1)");
    registry.workerLost("workers/w2");
    twoStepsWithoutW2();
    assertThat(registry.planCopy(M, workers.healthyWorkers())).as("w1 and w3 hold shards of it already").isEmpty();
    workers.register(A4);
    assertThat(registry.underReplicated()).containsExactly(M);

    ModelRegistry.CopyPlan plan = registry.planCopy(M, workers.healthyWorkers()).orElseThrow();
    assertThat(plan.target().name()).isEqualTo("workers/w4");
    assertThat(plan.step()).as("the boundary after the first undecided step, 2").isEqualTo(3);
    assertThat(plan.copies()).extracting(s -> s.getTensor() + "@" + s.getOffset() + " " + s.getReplica() + " "
        + s.getWorker()).containsExactly("a@0 1 workers/w4", "a@8192 1 workers/w4");
    assertThat(plan.sources().keySet()).containsExactly(A1, A3);
    assertThat(plan.epoch()).isEqualTo(1);
    assertThat(registry.get(M).getReplication().getCopyingShards()).isEqualTo(2);
    assertThat(registry.planCopy(M, workers.healthyWorkers())).as("one copy of a model at a time").isEmpty();

    assertThat(registry.addCopies(plan)).isEqualTo(2);
    assertThat(registry.get(M).getReplication().getCopyingShards()).as("until every source committed").isEqualTo(2);
    registry.copyEnded(plan);
    assertThat(registry.get(M).getReplication().getCopyingShards()).as("pending its sources' commits").isEqualTo(2);
    registry.copyCommitted(plan);
    registry.copyEnded(plan);
    assertThat(observed).containsExactly("models/m workers/w2 epoch 1 copies 1",
        "models/m 2 copied to workers/w4 epoch 2 copies 2");
    assertThat(registry.shardMap(M).getShardsList()).extracting(s -> s.getTensor() + "@" + s.getOffset() + " "
        + s.getReplica() + " " + s.getWorker()).containsExactly(
            "a@0 0 workers/w1", "a@8192 0 workers/w3", "b@0 0 workers/w3", "b@0 1 workers/w1",
            "a@0 1 workers/w4", "a@8192 1 workers/w4");
    var replication = registry.get(M).getReplication();
    assertThat(replication.getUnderReplicatedShards()).isZero();
    assertThat(replication.getMinLiveCopies()).isEqualTo(2);
    assertThat(replication.getCopyingShards()).isZero();
    assertThat(replication.getCopiesMade()).isEqualTo(2);
    assertThat(replication.getEpoch()).isEqualTo(2);
    assertThat(registry.underReplicated()).isEmpty();

    RecordingReply r1 = new RecordingReply();
    registry.reportStep(M, "workers/w1", 2, 0, List.of(A0, B0), r1);
    registry.reportStep(M, "workers/w3", 2, 0, List.of(A1_BLOCK, B0), new RecordingReply());
    assertThat(r1.answered()).as("step 2 waits for the new copy").isFalse();
    registry.reportStep(M, "workers/w4", 2, 0, List.of(A0, A1_BLOCK), new RecordingReply());
    assertThat(r1.decision().decision().gradientNorm()).isEqualTo(1.0);
  }

  @Test
  void aCopyWithdrawnLeavesTheMapAgainAndItsWorkerIsFencedOffTheModel() {
    threeWorkersTwoCopies("sgd(0.1)");
    registry.workerLost("workers/w2");
    twoStepsWithoutW2();
    workers.register(A4);
    ModelRegistry.CopyPlan plan = registry.planCopy(M, workers.healthyWorkers()).orElseThrow();
    registry.addCopies(plan);
    registry.withdrawCopies(plan, "a source lost its hold");
    registry.copyEnded(plan);
    assertThat(registry.shardMap(M).getEpoch()).isEqualTo(3);
    assertThat(registry.shardMap(M).getShardsList()).noneMatch(s -> s.getWorker().equals("workers/w4"));
    assertThat(registry.get(M).getReplication().getUnderReplicatedShards()).isEqualTo(2);
    assertThat(registry.get(M).getReplication().getCopiesMade()).isZero();
    RecordingReply fenced = new RecordingReply();
    registry.reportStep(M, "workers/w4", 2, 0, List.of(A0, A1_BLOCK), fenced);
    assertThat(fenced.failure().getMessage()).isEqualTo("workers/w4 is fenced off models/m: a source lost its hold; it"
        + " must drop its shards of the model");
    assertThat(registry.fencedOff("workers/w4", List.of(M))).as("its heartbeat's answer says so too")
        .containsExactly(Map.entry(M, fenced.failure().getMessage()));
    RecordingReply r1 = new RecordingReply();
    registry.reportStep(M, "workers/w1", 2, 0, List.of(A0, B0), r1);
    registry.reportStep(M, "workers/w3", 2, 0, List.of(A1_BLOCK, B0), new RecordingReply());
    assertThat(r1.answered()).as("step 2 no longer waits for w4").isTrue();
  }

  @Test
  void aCopyIsAbandonedWhenTheMapMovedWhileItWasMade() {
    threeWorkersTwoCopies("sgd(0.1)");
    registry.workerLost("workers/w2");
    workers.register(A4);
    ModelRegistry.CopyPlan plan = registry.planCopy(M, workers.healthyWorkers()).orElseThrow();
    registry.workerLost("workers/w1"); // a@0 had no other copy: the model fails
    assertApiError(() -> registry.addCopies(plan), Status.Code.FAILED_PRECONDITION)
        .hasMessage("models/m changed while its shards were copied to workers/w4 (it failed); the copy is abandoned");
    assertThat(registry.shardMap(M).getShardsList()).noneMatch(s -> s.getWorker().equals("workers/w4"));
  }
}
