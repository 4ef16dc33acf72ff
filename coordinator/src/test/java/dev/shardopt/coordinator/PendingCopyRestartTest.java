package dev.shardopt.coordinator;

import static dev.shardopt.coordinator.ModelRegistryTest.stat;
import static dev.shardopt.coordinator.ModelRegistryTest.twoWorkerModel;
import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.engine.BlockStatistics;
import dev.shardopt.rpc.ApiException;
import dev.shardopt.v1.CommitCopyRequest;
import dev.shardopt.v1.CopyShardsRequest;
import dev.shardopt.v1.CopyShardsResponse;
import dev.shardopt.v1.ModelState;
import dev.shardopt.v1.TensorChunk;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A coordinator killed between a copy's steps 3 (the copy joined the shard map, persisted) and 4
 * (each source committed), restarted on its state dir: its first re-replication round commits the
 * copy on every source whose hold is still in force, or withdraws it (epoch + 1, its worker fenced
 * off the model) when a source's hold ended, so a copy that may have missed a push never serves.
 *
 * <p>The model is FailoverTest's: w1 a[0, 8192), w2 a[8192, 16384), w3 b, each backed up on the
 * next worker; w2 is lost, and w4 joins and gets a copy of a[0, 8192) from w1 and of
 * a[8192, 16384) from w3 at step 3.
 */
class PendingCopyRestartTest {
  private static final String A1 = "host1:7001";
  private static final String A2 = "host2:7002";
  private static final String A3 = "host3:7003";
  private static final String A4 = "host4:7004";
  private static final String M = "models/m";
  private static final BlockStatistics A0 = stat(0, 0, 0.25);
  private static final BlockStatistics A1_BLOCK = stat(0, 1, 0.5);
  private static final BlockStatistics B0 = stat(1, 0, 0.25);
  private static final String COPY = "models/m: 2 shards from " + A1 + ", " + A3 + " to workers/w4 at step 3";
  private static final String DONE = "re-replication: " + COPY + " done by a later round (its sources' commits were"
      + " pending); the shard map is at epoch 2";

  @TempDir Path stateDir;
  private final AtomicLong now = new AtomicLong(1_000_000);
  private final ModelRegistryTest.FakeFleet fleet = new ModelRegistryTest.FakeFleet();
  private final FakeCopier copier = new FakeCopier();
  private ScheduledExecutorService timer;
  private ExecutorService runner;
  private ModelRegistry.CopyPlan plan;
  // the coordinator after its restart
  private WorkerRegistry workers;
  private ModelRegistry models;
  private Rereplicator rereplicator;

  /** CommitCopy by address: each call recorded, and answered with the failure set for its address, if any. */
  static final class FakeCopier implements ShardCopier {
    final List<String> commits = new CopyOnWriteArrayList<>();
    final Map<String, RuntimeException> failOn = new ConcurrentHashMap<>();

    @Override
    public Iterator<CopyShardsResponse> copyShards(String address, CopyShardsRequest request) {
      throw new UnsupportedOperationException("no copy is planned after a restart with one pending");
    }

    @Override
    public void writeCopy(String address, Iterator<TensorChunk> chunks) {
      throw new UnsupportedOperationException("no copy is planned after a restart with one pending");
    }

    @Override
    public void commitCopy(String address, CommitCopyRequest request) {
      commits.add(address + " " + request.getModel() + " step " + request.getStep() + " epoch " + request.getEpoch()
          + (request.getAbort() ? " abort" : ""));
      RuntimeException e = failOn.get(address);
      if (e != null) {
        throw e;
      }
    }
  }

  @BeforeEach
  void copyJoinedTheMapAndTheCoordinatorWasKilled() {
    timer = Executors.newSingleThreadScheduledExecutor();
    runner = Executors.newSingleThreadExecutor();
    CoordinatorStateStore before = CoordinatorStateStore.open(stateDir);
    WorkerRegistry first = new WorkerRegistry(500, 6, now::get, before);
    ModelRegistry running = new ModelRegistry(first, fleet, timer, CoordinatorConfig.defaults(), ScheduleLockHooks.NONE,
        () -> 42_000_000_000L, before);
    for (String a : List.of(A1, A2, A3)) {
      first.register(a);
    }
    running.create("m", twoWorkerModel("sgd(0.1)").toBuilder().setReplicas(2).build());
    running.workerLost("workers/w2");
    for (long step = 0; step < 2; step++) {
      RecordingReply r = new RecordingReply();
      running.reportStep(M, "workers/w1", step, 0, List.of(A0, B0), r);
      running.reportStep(M, "workers/w3", step, 0, List.of(A1_BLOCK, B0), new RecordingReply());
      assertThat(r.answered()).as("step %s decided by w1 and w3", step).isTrue();
    }
    first.register(A4);
    plan = running.planCopy(M, first.healthyWorkers()).orElseThrow();
    assertThat(plan.step()).isEqualTo(3);
    assertThat(running.addCopies(plan)).as("step 3: the copy joined the map").isEqualTo(2);
    // killed here: no source got CommitCopy(2); both still hold their pushes of step 3 on

    restart();
  }

  private void restart() {
    CoordinatorStateStore reopened = CoordinatorStateStore.open(stateDir);
    workers = new WorkerRegistry(500, 6, now::get, reopened);
    models = new ModelRegistry(workers, fleet, timer, CoordinatorConfig.defaults(), ScheduleLockHooks.NONE,
        () -> 42_000_000_000L, reopened);
    rereplicator = new Rereplicator(models, workers, fleet, copier, runner);
  }

  @AfterEach
  void stop() throws InterruptedException {
    timer.shutdownNow();
    runner.shutdownNow();
    assertThat(timer.awaitTermination(5, TimeUnit.SECONDS)).isTrue();
  }

  private List<String> w4Shards() {
    return models.shardMap(M).getShardsList().stream().filter(s -> s.getWorker().equals("workers/w4"))
        .map(s -> s.getTensor() + "@" + s.getOffset() + " " + s.getReplica()).toList();
  }

  @Test
  void theRestartedCoordinatorFindsTheCopyPendingAndPlansNoOtherCopyMeanwhile() {
    assertThat(models.shardMap(M).getEpoch()).isEqualTo(2);
    assertThat(w4Shards()).containsExactly("a@0 1", "a@8192 1");
    assertThat(models.get(M).getReplication().getCopyingShards()).as("status shows it being made").isEqualTo(2);
    assertThat(models.get(M).getReplication().getCopiesMade()).as("in the map already").isEqualTo(2);
    assertThat(models.pendingCommits()).singleElement().satisfies(p -> {
      assertThat(p.epoch()).isEqualTo(2);
      assertThat(p.plan().step()).isEqualTo(3);
      assertThat(p.plan().target()).isEqualTo(new ShardPlanner.WorkerSlot("workers/w4", A4));
      assertThat(p.plan().sources().keySet()).containsExactly(A1, A3);
      assertThat(p.plan().copies()).isEqualTo(plan.copies());
    });
    assertThat(models.planCopy(M, workers.healthyWorkers())).isEmpty();
  }

  @Test
  void withEverySourcesHoldStillInForceTheFirstRoundCommitsTheCopy() {
    assertThat(rereplicator.round()).containsExactly(DONE);
    assertThat(copier.commits).containsExactly(A1 + " models/m step 3 epoch 2", A3 + " models/m step 3 epoch 2");
    assertThat(models.shardMap(M).getEpoch()).isEqualTo(2);
    assertThat(w4Shards()).containsExactly("a@0 1", "a@8192 1");
    var replication = models.get(M).getReplication();
    assertThat(replication.getCopyingShards()).isZero();
    assertThat(replication.getUnderReplicatedShards()).isZero();
    assertThat(replication.getMinLiveCopies()).isEqualTo(2);
    assertThat(replication.getCopiesMade()).isEqualTo(2);
    assertThat(fleet.calls).noneMatch(c -> c.kind().equals("drop"));

    // step 3's barrier (the copy's step; 2 is decided on the way) waits for the copy's worker
    for (long step = 2; step <= 3; step++) {
      RecordingReply r1 = new RecordingReply();
      models.reportStep(M, "workers/w1", step, 0, List.of(A0, B0), r1);
      models.reportStep(M, "workers/w3", step, 0, List.of(A1_BLOCK, B0), new RecordingReply());
      assertThat(r1.answered()).as("step %s waits for w4", step).isFalse();
      models.reportStep(M, "workers/w4", step, 0, List.of(A0, A1_BLOCK), new RecordingReply());
      assertThat(r1.decision().decision().gradientNorm()).isEqualTo(1.0);
    }

    // the commit is durable: a second restart has nothing to finish
    copier.commits.clear();
    restart();
    assertThat(models.pendingCommits()).isEmpty();
    assertThat(rereplicator.round()).isEmpty();
    assertThat(copier.commits).isEmpty();
    assertThat(w4Shards()).containsExactly("a@0 1", "a@8192 1");
  }

  @Test
  void whenASourcesHoldEndedByItselfTheCopyIsWithdrawnAndItsWorkerFenced() {
    copier.failOn.put(A3, ApiException.failedPrecondition("worker " + A3 + " could not commit the copy of models/m at"
        + " step 3: models/m no longer holds its pushes of step 3 on this worker (the hold ended after the wait, or was"
        + " never taken): the copy may have missed pushes; abort it"));

    assertThat(rereplicator.round()).containsExactly("re-replication of " + COPY + " withdrawn (epoch 3): worker "
        + A3 + " could not commit the copy of models/m at step 3: models/m no longer holds its pushes of step 3 on this"
        + " worker (the hold ended after the wait, or was never taken): the copy may have missed pushes; abort it");
    assertThat(models.shardMap(M).getEpoch()).isEqualTo(3);
    assertThat(w4Shards()).isEmpty();
    var replication = models.get(M).getReplication();
    assertThat(replication.getUnderReplicatedShards()).as("the ranges count their 1 live copy again").isEqualTo(2);
    assertThat(replication.getCopyingShards()).isZero();
    assertThat(replication.getCopiesMade()).isZero();
    assertThat(fleet.calls).filteredOn(c -> c.kind().equals("drop")).extracting(c -> c.address() + " " + c.request())
        .containsExactly(A4 + " " + M);

    RecordingReply fenced = new RecordingReply();
    models.reportStep(M, "workers/w4", 2, 0, List.of(A0, A1_BLOCK), fenced);
    assertThat(fenced.failure().getMessage()).startsWith("workers/w4 is fenced off models/m: its copy of models/m was"
        + " withdrawn: worker " + A3 + " could not commit");
    RecordingReply r1 = new RecordingReply();
    models.reportStep(M, "workers/w1", 2, 0, List.of(A0, B0), r1);
    models.reportStep(M, "workers/w3", 2, 0, List.of(A1_BLOCK, B0), new RecordingReply());
    assertThat(r1.answered()).as("step 2 no longer waits for w4").isTrue();
    assertThat(models.planCopy(M, workers.healthyWorkers())).as("w4 is fenced off the model: no copy onto it again")
        .isEmpty();

    restart();
    assertThat(models.pendingCommits()).isEmpty();
    assertThat(models.shardMap(M).getEpoch()).isEqualTo(3);
    assertThat(w4Shards()).isEmpty();
  }

  @Test
  void aSourceThatDoesNotAnswerIsAskedAgainTheNextRoundAndARepeatedCommitIsHarmless() {
    copier.failOn.put(A3, ApiException.unavailable("worker " + A3 + " could not commit: connection refused"));
    assertThat(rereplicator.round()).isEmpty();
    assertThat(models.pendingCommits()).hasSize(1);
    assertThat(models.get(M).getReplication().getCopyingShards()).isEqualTo(2);
    assertThat(w4Shards()).containsExactly("a@0 1", "a@8192 1");

    copier.failOn.clear();
    assertThat(rereplicator.round()).containsExactly(DONE);
    assertThat(copier.commits).containsExactly(A1 + " models/m step 3 epoch 2", A3 + " models/m step 3 epoch 2",
        A1 + " models/m step 3 epoch 2", A3 + " models/m step 3 epoch 2");
    assertThat(models.pendingCommits()).isEmpty();
    assertThat(models.shardMap(M).getEpoch()).isEqualTo(2);
  }

  @Test
  void aSourceDeclaredDeadBeforeItCommittedWithdrawsTheCopyAndARangeLeftWithoutACopyFailsTheModel() {
    // w1, a[0, 8192)'s source and its only other copy, dies before the restarted coordinator commits
    assertThat(models.workerLost("workers/w1")).containsExactly(
        "failover: models/m: workers/w1 declared dead; its shards' backups took over (epoch 3)");

    assertThat(rereplicator.round()).containsExactly("re-replication of " + COPY + " withdrawn (epoch 4): the source "
        + A1 + " left the shard map before it committed the copy");
    assertThat(copier.commits).as("w3's hold still in force ends as an abort").containsExactly(
        A3 + " models/m step 3 epoch 0 abort");
    var m = models.get(M);
    assertThat(m.getState()).isEqualTo(ModelState.FAILED);
    assertThat(m.getFailure()).isEqualTo("the copy of 1 shard of models/m on workers/w4 was withdrawn (its copy of"
        + " models/m was withdrawn: the source " + A1 + " left the shard map before it committed the copy) and they had"
        + " no other copy: [a[0, 8192)]; it has no checkpoint");
  }
}
