package dev.shardopt.worker.store;

import static dev.shardopt.worker.store.TestModels.pull;
import static dev.shardopt.worker.store.TestModels.push;
import static dev.shardopt.worker.store.TestModels.pushAsync;
import static dev.shardopt.worker.store.TestModels.refused;
import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.dsl.Pipeline;
import dev.shardopt.rpc.ApiException;
import dev.shardopt.v1.TrainingMode;
import io.grpc.Status;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The asynchronous protocol: pushes applied on arrival, per trainer push index, with SSP. */
class AsyncStepsTest {
  private final TestModels models = new TestModels();

  @AfterEach
  void stop() {
    models.close();
  }

  private static float[][] g(float... v) {
    return new float[][] {v};
  }

  private WorkerModel model(String pipeline, int staleness, FakeCoordinator[] out, List<String> names, float[]... init) {
    Pipeline p = Pipeline.parse(pipeline);
    FakeCoordinator c = new FakeCoordinator(p, names);
    out[0] = c;
    return models.model(p, 2, TrainingMode.ASYNC, staleness, c, names, init);
  }

  @Test
  void eachPushAppliesOnArrivalWithTheTrainersNorm() throws Exception {
    WorkerModel m = model("sgd(1.0).clipNorm(1.0)", 0, new FakeCoordinator[1], List.of("w"), new float[1]);
    // the trainer says its whole gradient has norm 4 (16 squared): scale 1/(4 + 1e-6)
    pushAsync(m, 0, 0, g(2), 16, false, 1000).get(5, TimeUnit.SECONDS);
    assertThat(m.version()).isEqualTo(1);
    assertThat(pull(m, 1)[0][0]).isEqualTo(-2f * (float) (1 / (4 + 1e-6)));
    pushAsync(m, 1, 0, g(1), 0.25, true, 1000).get(5, TimeUnit.SECONDS); // reported non-finite: skipped
    assertThat(m.stepsSkipped()).isEqualTo(1);
    assertThat(m.updatesApplied()).isEqualTo(1);
    assertThat(pushAsync(m, 0, 0, g(2), 16, false, 1000).get(5, TimeUnit.SECONDS).duplicate()).isTrue();
    assertThat(refused(() -> pushAsync(m, 0, 5, g(2), 16, false, 1000).get(5, TimeUnit.SECONDS)))
        .hasMessage("trainer 0 pushed step 5, but its next step on models/m is 1; pushes of one trainer come in order");
  }

  @Test
  void stalenessBoundMakesAFastTrainerWaitWithoutAThread() throws Exception {
    WorkerModel m = model("sgd(1.0)", 1, new FakeCoordinator[1], List.of("w"), new float[1]);
    push(m, 0, 0, g(1));
    push(m, 0, 1, g(1)); // one ahead of trainer 1 (at 0): allowed
    ApiException late = refused(() -> pushAsync(m, 0, 2, g(1), 1, false, 100).get(5, TimeUnit.SECONDS));
    assertThat(late.code()).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
    assertThat(late).hasMessage("trainer 0 is at step 2, more than the staleness bound 1 ahead of the slowest trainer (at 0); it waited 100 ms");
    assertThat(m.waitingPushes()).isZero();
    // the waiter is registered before push returns: nothing to wait for in the test
    CompletableFuture<PushAck> waiting = pushAsync(m, 0, 2, g(1), 1, false, 5000);
    assertThat(m.waitingPushes()).isEqualTo(1);
    assertThat(waiting).isNotDone();
    assertThat(m.version()).isEqualTo(2);
    push(m, 1, 0, g(1));
    assertThat(waiting.get(5, TimeUnit.SECONDS)).isEqualTo(new PushAck(2, false, 4));
    assertThat(pull(m, 4)[0]).containsExactly(-4f);
  }

  @Test
  void aPushIsAppliedUnderThePipelineAtItsTrainersPushIndex() throws Exception {
    FakeCoordinator[] c = new FakeCoordinator[1];
    WorkerModel m = model("sgd(1.0)", 0, c, List.of("a", "b"), new float[1], new float[1]);
    c[0].change(Pipeline.parse("sgd(1.0).freeze(\"b\")"), 1);
    push(m, 0, 0, new float[][] {{1}, {1}});
    push(m, 0, 1, new float[][] {{1}, null}); // index 1: b frozen, may be left out
    // trainer 1's index 0 arrives later, still under generation 0: b must be there and is updated
    ApiException missing = refused(() -> push(m, 1, 0, new float[][] {{1}, null}));
    assertThat(missing).hasMessage("trainer 1: no gradient for 'b'");
    push(m, 1, 0, new float[][] {{1}, {2}});
    float[][] p = pull(m, 3);
    assertThat(p[0]).containsExactly(-3f);
    assertThat(p[1]).containsExactly(-3f);
    assertThat(c[0].calls).containsExactly("schedule through 1");
  }

  @Test
  void aPushNamingAnotherGenerationIsRefusedWithTheOneInForce() throws Exception {
    FakeCoordinator[] c = new FakeCoordinator[1];
    WorkerModel m = model("sgd(1.0)", 0, c, List.of("w"), new float[1]);
    c[0].change(Pipeline.parse("sgd(1.0).clipValue(0.5)"), 1);
    push(m, 0, 0, g(1));
    float[][] grad = g(1);
    ApiException e = refused(() -> m.push(new GradientPush(0, 1, grad, TestModels.checksum(grad), 1, false,
        OptionalLong.of(0)), 1000).get(5, TimeUnit.SECONDS));
    assertThat(e.code()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(e).hasMessage("trainer 0 computed step 1 of models/m under pipeline generation 0, but generation 1 is in"
        + " force at step 1; read the model's pipeline schedule and push again");
    float[][] again = g(1);
    assertThat(m.push(new GradientPush(0, 1, again, TestModels.checksum(again), 1, false, OptionalLong.of(1)), 1000)
        .get(5, TimeUnit.SECONDS)).isEqualTo(new PushAck(1, false, 2));
  }
}
