package dev.shardopt.worker.store;

import dev.shardopt.engine.TensorShape;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.shardopt.dsl.Pipeline;
import dev.shardopt.rpc.ApiException;
import dev.shardopt.v1.Initializer;
import dev.shardopt.v1.Model;
import dev.shardopt.v1.TensorSpec;
import dev.shardopt.v1.TrainingMode;
import dev.shardopt.engine.ShardSpec;
import dev.shardopt.engine.BlockStatistics;
import dev.shardopt.engine.StepDecider;
import dev.shardopt.engine.UpdateDecision;
import dev.shardopt.engine.kernel.ParallelApply;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The worker-side protocol without gRPC: exactly-once pushes, steps, pulls, SSP, failures. */
class WorkerModelTest {
  private final ExecutorService pool = Executors.newCachedThreadPool();
  private final AtomicInteger decisions = new AtomicInteger();
  private volatile RuntimeException coordinatorFailure;

  @AfterEach
  void stop() {
    pool.shutdownNow();
  }

  /** A coordinator for one worker: decides from this worker's statistics alone. */
  private StepCoordinator coordinator(Pipeline p, long[] t) {
    return new StepCoordinator() {
      @Override
      public UpdateDecision decide(String model, long step, List<BlockStatistics> stats) {
        if (coordinatorFailure != null) {
          throw coordinatorFailure;
        }
        decisions.incrementAndGet();
        UpdateDecision d = StepDecider.decide(p, t[0], stats, List.of("w"));
        if (d.applies()) {
          t[0]++;
        }
        return d;
      }

      @Override
      public void loaded(String model) {}
    };
  }

  private WorkerModel model(String pipeline, int trainers, TrainingMode mode, int staleness, float... init) {
    Pipeline p = Pipeline.parse(pipeline);
    Model spec = Model.newBuilder().setName("models/m").setPipeline(p.toProto()).setTrainers(trainers).setMode(mode)
        .setStaleness(staleness)
        .addTensors(TensorSpec.newBuilder().setName("w").addShape(init.length).setInit(Initializer.newBuilder()
            .setZeros(Initializer.Zeros.getDefaultInstance())))
        .build();
    ShardSpec shard = ShardSpec.whole(0, new TensorShape("w", new long[] {init.length}));
    return new WorkerModel(spec, List.of(shard), List.of(init), false, List.of("w"), coordinator(p, new long[1]),
        new ParallelApply(pool, 1), Executors.newSingleThreadExecutor());
  }

  /** A pull of the first shard, decoded. */
  private record Pulled(long step, float[] data) {
    List<float[]> values() {
      return List.of(data);
    }
  }

  private static Pulled pull(WorkerModel m, long minStep, long waitMillis) throws InterruptedException {
    WorkerModel.Snapshot s = m.pull(minStep, List.of(), waitMillis, 1 << 20);
    float[] out = new float[s.shards().get(0).length()];
    int at = 0;
    for (com.google.protobuf.ByteString b : s.chunks().get(0)) {
      dev.shardopt.rpc.TensorBytes.decode(b, out, at);
      at += b.size() / Float.BYTES;
    }
    return new Pulled(s.step(), out);
  }

  private static float[][] g(float... v) {
    return new float[][] {v};
  }

  @Test
  void syncStepAppliesOnceAllTrainersPushedWithTheirMean() throws Exception {
    WorkerModel m = model("sgd(1.0)", 2, TrainingMode.SYNC, 0, 0f, 0f);
    PushAck first = m.push(0, 0, g(1, 2), 0, false, 1000);
    assertThat(first).isEqualTo(new PushAck(0, false, 0));
    assertThat(m.version()).isZero();
    m.push(1, 0, g(3, 4), 0, false, 1000);
    Pulled s = pull(m, 1, 5000);
    assertThat(s.step()).isEqualTo(1);
    // mean (2, 3); theta = -lr * mean
    assertThat(s.values().get(0)).containsExactly(-2f, -3f);
    assertThat(decisions.get()).isEqualTo(1);
  }

  @Test
  void aDuplicatePushIsAcknowledgedAndNeverAppliedTwice() throws Exception {
    WorkerModel m = model("sgd(1.0)", 2, TrainingMode.SYNC, 0, 0f);
    m.push(0, 0, g(1), 0, false, 1000);
    // the retry carries other values: the first push wins
    assertThat(m.push(0, 0, g(100), 0, false, 1000).duplicate()).isTrue();
    m.push(1, 0, g(3), 0, false, 1000);
    assertThat(pull(m, 1, 5000).values().get(0)).containsExactly(-2f);
    // a retry after the step was applied is acknowledged too, and changes nothing
    assertThat(m.push(1, 0, g(3), 0, false, 1000)).isEqualTo(new PushAck(0, true, 1));
    assertThat(pull(m, 1, 5000).values().get(0)).containsExactly(-2f);
    assertThat(m.pushesReceived()).isEqualTo(4);
    assertThat(m.duplicatesReceived()).isEqualTo(2);
    assertThat(decisions.get()).isEqualTo(1);
  }

  @Test
  void aPushTooFarAheadIsAFailedPreconditionNamingTheStep() throws Exception {
    WorkerModel m = model("sgd(1.0)", 1, TrainingMode.SYNC, 0, 0f);
    assertThatThrownBy(() -> m.push(0, 3, g(1), 0, false, 1000))
        .isInstanceOfSatisfying(ApiException.class, e -> assertThat(e.code()).isEqualTo(Status.Code.FAILED_PRECONDITION))
        .hasMessage("trainer 0 pushed step 3, but models/m is collecting step 0 (completed 0); pull, then push step 0");
    assertThatThrownBy(() -> m.push(2, 0, g(1), 0, false, 1000))
        .hasMessage("trainer 2 is out of range: models/m has 1 trainers (0..0)");
  }

  @Test
  void badGradientsAreRefusedAndLeaveNothingBehind() throws Exception {
    WorkerModel m = model("sgd(1.0)", 2, TrainingMode.SYNC, 0, 0f, 0f);
    assertThatThrownBy(() -> m.push(1, 0, g(1, Float.NaN), 0, false, 1000))
        .isInstanceOfSatisfying(ApiException.class, e -> assertThat(e.code()).isEqualTo(Status.Code.INVALID_ARGUMENT))
        .hasMessage("trainer 1: the gradient of 'w' is NaN at index 1; nothing was applied (add .skipNonFinite() to skip such steps)");
    assertThatThrownBy(() -> m.push(0, 0, g(1), 0, false, 1000))
        .hasMessageContaining("the gradient of 'w' has 1 values, expected 2");
    // trainer 1 may still push step 0: its refused push was not recorded
    m.push(0, 0, g(1, 1), 0, false, 1000);
    m.push(1, 0, g(3, 3), 0, false, 1000);
    assertThat(pull(m, 1, 5000).values().get(0)).containsExactly(-2f, -2f);
  }

  @Test
  void pullWaitsForItsStepAndTimesOutWithAClearMessage() throws Exception {
    WorkerModel m = model("sgd(1.0)", 2, TrainingMode.SYNC, 0, 0f);
    m.push(0, 0, g(1), 0, false, 1000);
    assertThatThrownBy(() -> pull(m, 1, 100))
        .isInstanceOfSatisfying(ApiException.class, e -> assertThat(e.code()).isEqualTo(Status.Code.DEADLINE_EXCEEDED))
        .hasMessage("step 1 of models/m is not complete after 100 ms (completed 0, collecting 0); are all 2 trainers pushing?");
    Future<Pulled> waiting = pool.submit(() -> pull(m, 1, 5000));
    m.push(1, 0, g(1), 0, false, 1000);
    assertThat(waiting.get(5, TimeUnit.SECONDS).values().get(0)).containsExactly(-1f);
  }

  @Test
  void aFailedStepFailsWaitingPullsAndLaterPushesWithUnavailable() throws Exception {
    WorkerModel m = model("sgd(1.0)", 1, TrainingMode.SYNC, 0, 0f);
    coordinatorFailure = ApiException.unavailable("workers/w2 did not report");
    m.push(0, 0, g(1), 0, false, 1000);
    assertThatThrownBy(() -> pull(m, 1, 5000))
        .isInstanceOfSatisfying(ApiException.class, e -> assertThat(e.code()).isEqualTo(Status.Code.UNAVAILABLE))
        .hasMessage("models/m failed on this worker: step 0 failed: workers/w2 did not report");
    assertThatThrownBy(() -> m.push(0, 1, g(1), 0, false, 1000))
        .isInstanceOfSatisfying(ApiException.class, e -> assertThat(e.code()).isEqualTo(Status.Code.UNAVAILABLE));
  }

  @Test
  void asyncAppliesEachPushOnArrivalWithTheTrainersNorm() throws Exception {
    WorkerModel m = model("sgd(1.0).clipNorm(1.0)", 2, TrainingMode.ASYNC, 0, 0f);
    // the trainer says its whole gradient has norm 4 (16 squared): scale 1/(4 + 1e-6)
    m.push(0, 0, g(2), 16, false, 1000);
    assertThat(m.version()).isEqualTo(1);
    assertThat(pull(m, 1, 1000).values().get(0)[0]).isEqualTo(-2f * (float) (1 / (4 + 1e-6)));
    m.push(1, 0, g(1), 0.25, true, 1000); // reported non-finite: skipped
    assertThat(m.stepsSkipped()).isEqualTo(1);
    assertThat(m.push(0, 0, g(2), 16, false, 1000).duplicate()).isTrue();
    assertThatThrownBy(() -> m.push(0, 5, g(2), 16, false, 1000))
        .hasMessage("trainer 0 pushed step 5, but its next step on models/m is 1; pushes of one trainer come in order");
  }

  @Test
  void stalenessBoundMakesAFastTrainerWait() throws Exception {
    WorkerModel m = model("sgd(1.0)", 2, TrainingMode.ASYNC, 1, 0f);
    m.push(0, 0, g(1), 1, false, 1000);
    m.push(0, 1, g(1), 1, false, 1000); // one ahead of trainer 1 (at 0): allowed
    assertThatThrownBy(() -> m.push(0, 2, g(1), 1, false, 100))
        .isInstanceOfSatisfying(ApiException.class, e -> assertThat(e.code()).isEqualTo(Status.Code.DEADLINE_EXCEEDED))
        .hasMessage("trainer 0 is at step 2, more than the staleness bound 1 ahead of the slowest trainer (at 0); it waited 100 ms");
    CountDownLatch started = new CountDownLatch(1);
    Future<PushAck> waiting = pool.submit(() -> {
      started.countDown();
      return m.push(0, 2, g(1), 1, false, 5000);
    });
    started.await();
    Thread.sleep(50);
    assertThat(waiting).isNotDone();
    m.push(1, 0, g(1), 1, false, 1000);
    assertThat(waiting.get(5, TimeUnit.SECONDS).duplicate()).isFalse();
    assertThat(m.version()).isEqualTo(4);
  }

  @Test
  void pipelineChangesTakeEffectAtTheirStep() throws Exception {
    WorkerModel m = model("sgd(1.0)", 1, TrainingMode.SYNC, 0, 0f);
    // (the learning rate comes with the coordinator's decision; the worker's pipeline carries the rest)
    m.setPipeline(Pipeline.parse("sgd(1.0).weightDecay(0.5)"), 1);
    m.push(0, 0, g(1), 0, false, 1000);
    pull(m, 1, 5000);
    m.push(0, 1, g(1), 0, false, 1000);
    // step 0: theta = -1; step 1: g = 1 + 0.5 * (-1) = 0.5, theta = -1.5
    assertThat(pull(m, 2, 5000).values().get(0)).containsExactly(-1.5f);
    assertThatThrownBy(() -> m.setPipeline(Pipeline.parse("sgd(0.1)"), 1))
        .isInstanceOfSatisfying(ApiException.class, e -> assertThat(e.code()).isEqualTo(Status.Code.FAILED_PRECONDITION))
        .hasMessageContaining("step 1 of models/m has already started");
    assertThatThrownBy(() -> m.setPipeline(Pipeline.parse("adam(0.1)"), 5))
        .hasMessageContaining("the base rule cannot change mid-run (sgd -> adam)");
  }

  @Test
  void concurrentPushesOfManyStepsApplyEachExactlyOnce() throws Exception {
    int trainers = 4;
    int steps = 50;
    WorkerModel m = model("sgd(1.0)", trainers, TrainingMode.SYNC, 0, 0f);
    List<Future<?>> all = new ArrayList<>();
    for (int r = 0; r < trainers; r++) {
      int rank = r;
      all.add(pool.submit(() -> {
        for (int s = 0; s < steps; s++) {
          pull(m, s, 10_000);
          m.push(rank, s, g(1), 0, false, 10_000);
          m.push(rank, s, g(1), 0, false, 10_000); // an immediate retry
        }
        return null;
      }));
    }
    for (Future<?> f : all) {
      f.get(30, TimeUnit.SECONDS);
    }
    assertThat(pull(m, steps, 10_000).values().get(0)).containsExactly((float) -steps);
    assertThat(decisions.get()).isEqualTo(steps);
    assertThat(m.duplicatesReceived()).isEqualTo((long) trainers * steps);
  }
}
