package dev.shardopt.worker.store;

import static dev.shardopt.worker.store.TestModels.refused;
import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.dsl.Pipeline;
import dev.shardopt.engine.device.CpuBackend;
import dev.shardopt.engine.kernel.ParallelApply;
import dev.shardopt.rpc.ApiException;
import dev.shardopt.v1.CreateShardsRequest;
import dev.shardopt.v1.Model;
import dev.shardopt.v1.Shard;
import dev.shardopt.v1.TensorSpec;
import io.grpc.Status;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A worker back from a partition is told by its heartbeat's answer which models the coordinator
 * fenced it off (issue 9 §2): {@link ShardStore#fenceOff} fails them at once, so that it answers no
 * pull of the version it had and takes no push of them, whatever shard map the caller holds.
 */
class ShardStoreFencingTest {
  private static final String WHY = "workers/w3 is fenced off models/f: workers/w3 was declared dead (it missed its"
      + " heartbeats for 1000 ms) and the copies of its shards on other workers took over; it must drop its shards"
      + " of the model";

  private final TestModels models = new TestModels();
  private final ShardStore store = new ShardStore(new FakeCoordinator(Pipeline.parse("sgd(1.0)"), List.of("b")),
      new CpuBackend(new ParallelApply(models.pool, 1)), new ParallelApply(models.pool, 1), models.timeouts,
      new WorkerCheckpoints(Runnable::run, () -> "worker workers/w3"));

  @AfterEach
  void stop() {
    store.close();
    models.close();
  }

  private WorkerModel model(String id) {
    Model spec = Model.newBuilder().setName("models/" + id).setPipeline(Pipeline.parse("sgd(1.0)").toProto())
        .addTensors(TensorSpec.newBuilder().setName("b").addShape(2)).build(); // zeros
    return store.create(CreateShardsRequest.newBuilder().setModel(spec)
        .addShards(Shard.newBuilder().setTensor("b").setTensorIndex(0).setOffset(0).setLength(2)).build());
  }

  @Test
  void aFencedModelRefusesPullsAndPushesNamingTheFencingAndTheOthersServeOn() throws Exception {
    WorkerModel fenced = model("f");
    WorkerModel other = model("o");
    TestModels.push(fenced, 0, 0, new float[][] {{1, 2}});
    assertThat(TestModels.pull(fenced, 1)[0]).containsExactly(-1, -2); // sgd(1.0) from zeros

    assertThat(store.fenceOff(Map.of("models/f", WHY, "models/dropped-meanwhile", "whatever")))
        .containsExactly("models/f");

    ApiException pull = refused(() -> TestModels.pull(fenced, 0));
    assertThat(pull.code()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(pull).hasMessage("models/f failed on this worker: " + WHY);
    ApiException push = refused(() -> TestModels.push(fenced, 0, 1, new float[][] {{1, 2}}));
    assertThat(push.code()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(push).hasMessage("models/f failed on this worker: " + WHY);
    assertThat(fenced.updatesApplied()).as("nothing applied after the fencing").isEqualTo(1);

    assertThat(store.fenceOff(Map.of("models/f", WHY))).as("told again at every heartbeat: failed once").isEmpty();
    assertThat(TestModels.pull(other, 0)[0]).as("a model it was not fenced off serves on").containsExactly(0, 0);
  }

  @Test
  void aPullWaitingForALaterStepFailsWhenTheModelIsFencedOff() {
    WorkerModel fenced = model("f");
    var waiting = fenced.pull(1, List.of(), 5000, 1 << 20); // step 1 never comes: its trainer moved on
    store.fenceOff(Map.of("models/f", WHY));
    ApiException e = refused(() -> waiting.get(5, java.util.concurrent.TimeUnit.SECONDS));
    assertThat(e.code()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(e).hasMessageContaining("fenced off models/f");
  }
}
