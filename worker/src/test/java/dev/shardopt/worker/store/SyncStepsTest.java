package dev.shardopt.worker.store;

import static dev.shardopt.worker.store.TestModels.pull;
import static dev.shardopt.worker.store.TestModels.push;
import static dev.shardopt.worker.store.TestModels.refused;
import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.dsl.Pipeline;
import dev.shardopt.rpc.ApiException;
import dev.shardopt.v1.TrainingMode;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The synchronous protocol without gRPC: steps, exactly-once pushes, pulls and failures. */
class SyncStepsTest {
  private final TestModels models = new TestModels();

  @AfterEach
  void stop() {
    models.close();
  }

  private WorkerModel model(String pipeline, int trainers, FakeCoordinator[] out, float... init) {
    Pipeline p = Pipeline.parse(pipeline);
    FakeCoordinator c = new FakeCoordinator(p, List.of("w"));
    out[0] = c;
    return models.model(p, trainers, TrainingMode.SYNC, 0, c, List.of("w"), init);
  }

  private static float[][] g(float... v) {
    return new float[][] {v};
  }

  @Test
  void aStepAppliesOnceAllTrainersPushedWithTheirMean() throws Exception {
    FakeCoordinator[] c = new FakeCoordinator[1];
    WorkerModel m = model("sgd(1.0)", 2, c, 0f, 0f);
    assertThat(push(m, 0, 0, g(1, 2))).isEqualTo(new PushAck(0, false, 0));
    assertThat(m.version()).isZero();
    push(m, 1, 0, g(3, 4));
    // mean (2, 3); theta = -lr * mean
    assertThat(pull(m, 1)[0]).containsExactly(-2f, -3f);
    assertThat(c[0].calls).containsExactly("decide 0 under 0");
  }

  @Test
  void aRetryIsAcknowledgedDuplicateAndOtherDataIsAlreadyExists() throws Exception {
    FakeCoordinator[] c = new FakeCoordinator[1];
    WorkerModel m = model("sgd(1.0)", 2, c, 0f);
    push(m, 0, 0, g(1));
    assertThat(push(m, 0, 0, g(1))).isEqualTo(new PushAck(0, true, 0));
    ApiException other = refused(() -> push(m, 0, 0, g(100)));
    assertThat(other.code()).isEqualTo(Status.Code.ALREADY_EXISTS);
    assertThat(other).hasMessage("trainer 0's push of step 0 of models/m was already received with other data;"
        + " a retry must resend the same gradient, chunked the same way");
    push(m, 1, 0, g(3));
    assertThat(pull(m, 1)[0]).containsExactly(-2f);
    // after the step was applied: the same data is a duplicate, other data still refused
    assertThat(push(m, 1, 0, g(3))).isEqualTo(new PushAck(0, true, 1));
    assertThat(refused(() -> push(m, 1, 0, g(4))).code()).isEqualTo(Status.Code.ALREADY_EXISTS);
    assertThat(pull(m, 1)[0]).containsExactly(-2f);
    assertThat(m.pushesReceived()).isEqualTo(6);
    assertThat(m.duplicatesReceived()).isEqualTo(2);
    assertThat(c[0].calls).hasSize(1);
  }

  @Test
  void aPushTooFarAheadIsAFailedPreconditionNamingTheStep() {
    WorkerModel m = model("sgd(1.0)", 1, new FakeCoordinator[1], 0f);
    ApiException e = refused(() -> push(m, 0, 3, g(1)));
    assertThat(e.code()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(e).hasMessage("trainer 0 pushed step 3, but models/m is collecting step 0 (completed 0); pull, then push step 0");
    assertThat(refused(() -> push(m, 2, 0, g(1))))
        .hasMessage("trainer 2 is out of range: models/m has 1 trainers (0..0)");
  }

  @Test
  void badGradientsAreRefusedAndLeaveNothingBehind() throws Exception {
    WorkerModel m = model("sgd(1.0)", 2, new FakeCoordinator[1], 0f, 0f);
    ApiException nan = refused(() -> push(m, 1, 0, g(1, Float.NaN)));
    assertThat(nan.code()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(nan).hasMessage("trainer 1: the gradient of 'w' is NaN at index 1; nothing was applied (add .skipNonFinite() to skip such steps)");
    assertThat(refused(() -> push(m, 0, 0, g(1)))).hasMessageContaining("the gradient of 'w' has 1 values, expected 2");
    // trainer 1 may still push step 0, with other data: its refused push was not recorded
    push(m, 0, 0, g(1, 1));
    push(m, 1, 0, g(3, 3));
    assertThat(pull(m, 1)[0]).containsExactly(-2f, -2f);
  }

  @Test
  void pullWaitsForItsStepAndTimesOutWithAClearMessage() throws Exception {
    WorkerModel m = model("sgd(1.0)", 2, new FakeCoordinator[1], 0f);
    push(m, 0, 0, g(1));
    ApiException late = refused(() -> m.pull(1, List.of(), 100, 1 << 20).get(10, TimeUnit.SECONDS));
    assertThat(late.code()).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
    assertThat(late).hasMessage("step 1 of models/m is not complete after 100 ms (completed 0, collecting 0); are all 2 trainers pushing?");
    var waiting = m.pull(1, List.of(), 5000, 1 << 20);
    assertThat(m.waitingPulls()).isEqualTo(1);
    assertThat(waiting).isNotDone();
    push(m, 1, 0, g(1));
    assertThat(TestModels.decode(waiting.get(10, TimeUnit.SECONDS))[0]).containsExactly(-1f);
    assertThat(m.waitingPulls()).isZero();
  }

  @Test
  void aFailedStepFailsWaitingPullsAndLaterPushesWithUnavailable() throws Exception {
    FakeCoordinator[] c = new FakeCoordinator[1];
    WorkerModel m = model("sgd(1.0)", 1, c, 0f);
    c[0].failure = ApiException.unavailable("workers/w2 did not report");
    push(m, 0, 0, g(1));
    ApiException e = refused(() -> pull(m, 1));
    assertThat(e.code()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(e).hasMessage("models/m failed on this worker: step 0 failed: workers/w2 did not report");
    assertThat(refused(() -> push(m, 0, 1, g(1))).code()).isEqualTo(Status.Code.UNAVAILABLE);
  }

  @Test
  void aDecisionNamingAnotherGenerationFailsTheStepLoudly() throws Exception {
    FakeCoordinator[] c = new FakeCoordinator[1];
    WorkerModel m = model("sgd(1.0)", 1, c, 0f);
    c[0].decideUnder = 5L;
    push(m, 0, 0, g(1));
    ApiException e = refused(() -> pull(m, 1));
    assertThat(e.code()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(e).hasMessage("models/m failed on this worker: step 0 failed: the coordinator decided it under pipeline"
        + " generation 5, but this worker prepared it under generation 0");
    assertThat(m.updatesApplied()).isZero();
  }

  @Test
  void concurrentPushesOfManyStepsApplyEachExactlyOnce() throws Exception {
    int trainers = 4;
    int steps = 50;
    FakeCoordinator[] c = new FakeCoordinator[1];
    WorkerModel m = model("sgd(1.0)", trainers, c, 0f);
    List<Future<?>> all = new ArrayList<>();
    for (int r = 0; r < trainers; r++) {
      int rank = r;
      all.add(models.pool.submit(() -> {
        for (int s = 0; s < steps; s++) {
          pull(m, s);
          push(m, rank, s, g(1));
          push(m, rank, s, g(1)); // an immediate retry
        }
        return null;
      }));
    }
    for (Future<?> f : all) {
      f.get(30, TimeUnit.SECONDS);
    }
    assertThat(pull(m, steps)[0]).containsExactly((float) -steps);
    assertThat(c[0].calls).hasSize(steps);
    assertThat(m.duplicatesReceived()).isEqualTo((long) trainers * steps);
    assertThat(m.updatesApplied()).isEqualTo(steps);
  }
}
