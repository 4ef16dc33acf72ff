package dev.shardopt.worker.store;

import static dev.shardopt.worker.store.TestModels.refused;
import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.dsl.Pipeline;
import dev.shardopt.engine.device.CpuBackend;
import dev.shardopt.engine.kernel.ParallelApply;
import dev.shardopt.rpc.ApiException;
import dev.shardopt.v1.CreateShardsRequest;
import dev.shardopt.v1.Initializer;
import dev.shardopt.v1.Model;
import dev.shardopt.v1.Shard;
import dev.shardopt.v1.TensorSpec;
import io.grpc.Status;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Initial uploads through ShardStore, as CreateShards and WriteParameters use them. */
class UploadTrackerTest {
  private final TestModels models = new TestModels();
  private final FakeCoordinator coordinator = new FakeCoordinator(Pipeline.parse("sgd(1.0)"), List.of("W", "b"));
  private final ShardStore store = new ShardStore(coordinator, new CpuBackend(new ParallelApply(models.pool, 1)), new ParallelApply(models.pool, 1), models.timeouts,
      new WorkerCheckpoints(Runnable::run, () -> "worker workers/w1"));

  @AfterEach
  void stop() {
    store.close();
    models.close();
  }

  /** W[20000] uploaded, b[10] generated zeros, both on this worker. */
  private WorkerModel uploadAndZeros() {
    Model spec = Model.newBuilder().setName("models/u").setPipeline(Pipeline.parse("sgd(1.0)").toProto())
        .addTensors(TensorSpec.newBuilder().setName("W").addShape(20000)
            .setInit(Initializer.newBuilder().setUpload(Initializer.Upload.getDefaultInstance())))
        .addTensors(TensorSpec.newBuilder().setName("b").addShape(10)
            .setInit(Initializer.newBuilder().setZeros(Initializer.Zeros.getDefaultInstance())))
        .build();
    return store.create(CreateShardsRequest.newBuilder().setModel(spec)
        .addShards(Shard.newBuilder().setTensor("W").setTensorIndex(0).setOffset(0).setLength(20000))
        .addShards(Shard.newBuilder().setTensor("b").setTensorIndex(1).setOffset(0).setLength(10))
        .build());
  }

  @Test
  void aWorkerWithAnUploadAndAGeneratedTensorIsLoadedOnceTheUploadIsComplete() throws Exception {
    WorkerModel m = uploadAndZeros();
    float[] half = new float[10000];
    java.util.Arrays.fill(half, 0.5f);
    m.writeParameters("W", 0, half);
    assertThat(coordinator.loaded.get()).isZero();
    ApiException early = refused(() -> TestModels.push(m, 0, 0, new float[][] {new float[20000], new float[10]}));
    assertThat(early.code()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    m.writeParameters("W", 10000, half);
    // before: it waited for b's shard too, which nobody uploads, and stayed LOADING for good
    assertThat(coordinator.loaded.get()).isEqualTo(1);
    float[][] p = TestModels.pull(m, 0);
    assertThat(p[0][19999]).isEqualTo(0.5f);
    assertThat(p[1]).containsOnly(0f);
    ApiException late = refused(() -> { m.writeParameters("W", 0, new float[4]); return null; });
    assertThat(late.code()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(late).hasMessageContaining("models/u is already loaded on this worker");
  }

  @Test
  void writeParametersOnAGeneratedTensorIsAFailedPreconditionNamingItsInitializer() {
    WorkerModel m = uploadAndZeros();
    ApiException e = refused(() -> { m.writeParameters("b", 0, new float[10]); return null; });
    assertThat(e.code()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(e).hasMessage("tensor 'b' of models/u has the generated initializer zeros; WriteParameters only takes"
        + " tensors with the upload initializer");
    assertThat(coordinator.loaded.get()).isZero();
  }

  @Test
  void aModelWithoutUploadTensorsIsLoadedAtCreation() throws Exception {
    Model spec = Model.newBuilder().setName("models/z").setPipeline(Pipeline.parse("sgd(1.0)").toProto())
        .addTensors(TensorSpec.newBuilder().setName("b").addShape(2)).build(); // no initializer: zeros
    WorkerModel m = store.create(CreateShardsRequest.newBuilder().setModel(spec)
        .addShards(Shard.newBuilder().setTensor("b").setTensorIndex(0).setOffset(0).setLength(2)).build());
    assertThat(TestModels.push(m, 0, 0, new float[][] {{1, 1}}).duplicate()).isFalse();
    assertThat(refused(() -> { m.writeParameters("b", 0, new float[2]); return null; }))
        .hasMessageContaining("has the generated initializer zeros (none given)");
  }
}
