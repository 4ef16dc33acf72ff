package dev.shardopt.coordinator;

import static dev.shardopt.coordinator.ModelRegistryTest.assertApiError;
import static dev.shardopt.coordinator.ModelRegistryTest.finiteStep;
import static dev.shardopt.coordinator.ModelRegistryTest.stat;
import static dev.shardopt.coordinator.ModelRegistryTest.twoWorkerModel;
import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.dsl.Pipeline;
import dev.shardopt.engine.BlockStatistics;
import dev.shardopt.v1.HeartbeatRequest;
import dev.shardopt.v1.Model;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import io.grpc.Status;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A registry over a state dir, and a new one over the same dir, as after kill -9 and a restart. */
class ModelRegistryRestartTest {
  private static final String M = "models/m";
  private static final String PIPELINE = "adam(1e-3).clipNorm(1.0).skipNonFinite()";

  @TempDir
  Path dir;
  private final AtomicLong now = new AtomicLong(1_000_000);
  private final AtomicLong nanos = new AtomicLong(42_000_000_000L);
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();

  @AfterEach
  void stop() throws InterruptedException {
    timer.shutdownNow();
    assertThat(timer.awaitTermination(5, TimeUnit.SECONDS)).isTrue();
  }

  /** A coordinator's registries over {@code store} (null: none), with two workers registered. */
  private ModelRegistry coordinator(CoordinatorStateStore store) {
    WorkerRegistry workers = new WorkerRegistry(500, 6, now::get, store);
    assertThat(workers.register("host1:7001")).isEqualTo("workers/w1");
    assertThat(workers.register("host2:7002")).isEqualTo("workers/w2");
    return new ModelRegistry(workers, new ModelRegistryTest.FakeFleet(), timer, CoordinatorConfig.defaults(),
        ScheduleLockHooks.NONE, nanos::get, store);
  }

  /** Steps 0-2 applied, step 3 skipped (non-finite), a change at step 6, the horizon raised to 5. */
  private static DecidedStep history(ModelRegistry r) {
    r.create("m", twoWorkerModel(PIPELINE));
    for (long s = 0; s < 3; s++) {
      finiteStep(r, M, s, 0);
    }
    DecidedStep skipped = ModelRegistryTest.step(r, M, 3, 0, List.of(stat(0, 0, 0.0625)),
        List.of(new BlockStatistics(0, 1, new double[] {Double.NaN}, 8200), stat(1, 0, 0.0)));
    assertThat(skipped.decision().applies()).isFalse();
    r.updatePipeline(M, Pipeline.parse("adam(5e-4).clipNorm(0.5).skipNonFinite()").toProto(), 6);
    assertThat(r.pipelineSchedule(M, 5).getFixedThrough()).isEqualTo(5);
    return skipped;
  }

  @Test
  void aNewRegistryOverTheSameDirContinuesWhereTheOldOneWas() {
    ModelRegistry undisturbed = coordinator(CoordinatorStateStore.none());
    history(undisturbed);

    ModelRegistry before = coordinator(CoordinatorStateStore.open(dir));
    DecidedStep lastDecided = history(before);
    Model described = before.get(M);

    CoordinatorStateStore reopened = CoordinatorStateStore.open(dir);
    WorkerRegistry workers = new WorkerRegistry(500, 6, now::get, reopened);
    ModelRegistry after = new ModelRegistry(workers, new ModelRegistryTest.FakeFleet(), timer, CoordinatorConfig.defaults(),
        ScheduleLockHooks.NONE, nanos::get, reopened);

    // the workers' heartbeats under their old names are accepted; a new worker gets the next name
    workers.heartbeat(HeartbeatRequest.newBuilder().setWorker("workers/w2").build());
    assertThat(workers.healthyWorkers()).extracting(ShardPlanner.WorkerSlot::name).containsExactly("workers/w1", "workers/w2");
    assertThat(workers.register("host2:7002")).isEqualTo("workers/w2");
    assertThat(workers.register("host3:7003")).isEqualTo("workers/w3");

    assertThat(after.get(M)).isEqualTo(described);
    assertThat(after.incarnation(M)).isEqualTo(before.incarnation(M)) // the same run: its checkpoints are its own
        .isNotEqualTo(undisturbed.incarnation(M));
    assertThat(after.get(M).getUpdatesApplied()).isEqualTo(3);
    assertThat(after.get(M).getStepsSkipped()).isEqualTo(1);
    assertThat(after.shardMap(M)).isEqualTo(before.shardMap(M));
    assertThat(after.pipelineSchedule(M, 0)).isEqualTo(before.pipelineSchedule(M, 0));
    assertThat(after.pipelineSchedule(M, 0).getFixedThrough()).isEqualTo(5);
    assertThat(after.pipelineSchedule(M, 0).getGenerationsList()).extracting(g -> g.getFromStep()).containsExactly(0L, 6L);

    // a retried report of the last decided step gets the same decision, at once
    RecordingReply retried = new RecordingReply();
    after.reportStep(M, "workers/w2", 3, 0, List.of(stat(0, 1, 1.0)), retried);
    assertThat(retried.decision().toProto()).isEqualTo(lastDecided.toProto());

    // the horizon holds: no change at step 5; the next decision is the undisturbed one
    assertApiError(() -> after.updatePipeline(M, Pipeline.parse("adam(1e-4)").toProto(), 5), Status.Code.FAILED_PRECONDITION)
        .hasMessageContaining("fixed through step 5");
    DecidedStep next = finiteStep(after, M, 4, 0);
    assertThat(next.toProto()).isEqualTo(finiteStep(undisturbed, M, 4, 0).toProto());
    assertThat(next.decision().update()).isEqualTo(3);

    // deleting the model removes it from the dir too
    after.delete(M);
    assertThat(CoordinatorStateStore.open(dir).models()).isEmpty();
  }

  /** A failure (a barrier timeout) recorded in the dir: the model is FAILED and refuses reports after the restart. */
  @Test
  void aModelThatFailedStaysFailedAcrossARestart() {
    CoordinatorStateStore store = CoordinatorStateStore.open(dir);
    WorkerRegistry w = new WorkerRegistry(500, 6, now::get, store);
    assertThat(w.register("host1:7001")).isEqualTo("workers/w1");
    ModelRegistry r = new ModelRegistry(w, new ModelRegistryTest.FakeFleet(), timer,
        CoordinatorConfig.defaults(), ScheduleLockHooks.NONE, nanos::get, store);
    r.create("m", ModelRegistryTest.model("sgd(0.1)", ModelRegistryTest.tensor("a", 4)));
    RecordingReply alone = new RecordingReply();
    r.reportStep(M, "workers/w1", 0, 0, List.of(stat(0, 0, 1.0)), alone);
    assertThat(alone.decision().step()).isZero(); // one worker: decided at once

    String failure = "step 1 of models/m did not complete";
    CoordinatorStateStore reopened = CoordinatorStateStore.open(dir);
    assertThat(reopened.models()).hasSize(1);
    reopened.saveModel(reopened.models().get(0).toBuilder().setFailure(failure).build());
    ModelRegistry after = new ModelRegistry(new WorkerRegistry(500, 6, now::get, reopened), new ModelRegistryTest.FakeFleet(),
        timer, CoordinatorConfig.defaults(), ScheduleLockHooks.NONE, nanos::get, CoordinatorStateStore.open(dir));
    assertThat(after.get(M).getFailure()).isEqualTo(failure);
    RecordingReply refused = new RecordingReply();
    after.reportStep(M, "workers/w1", 1, 0, List.of(stat(0, 0, 1.0)), refused);
    assertThat(refused.failure().getMessage()).isEqualTo(failure);
  }

  /** What a step decision costs with a state dir (a snapshot of the model: write, fsync, rename, fsync). */
  @Test
  void perStepCostOfTheStateDir() {
    int steps = 200;
    long[] elapsed = new long[2];
    for (int durable = 0; durable < 2; durable++) {
      Path sub = dir.resolve("run" + durable);
      ModelRegistry r = coordinator(durable == 1 ? CoordinatorStateStore.open(sub) : CoordinatorStateStore.none());
      r.create("m", twoWorkerModel(PIPELINE));
      long t0 = System.nanoTime();
      for (long s = 0; s < steps; s++) {
        finiteStep(r, M, s, 0);
      }
      elapsed[durable] = System.nanoTime() - t0;
    }
    assertThat(CoordinatorStateStore.open(dir.resolve("run1")).models().get(0).getNextStep()).isEqualTo(steps);
    System.out.printf("per-step decision: %.3f ms with a state dir, %.3f ms without (%d steps)%n",
        elapsed[1] / 1e6 / steps, elapsed[0] / 1e6 / steps, steps);
  }
}
