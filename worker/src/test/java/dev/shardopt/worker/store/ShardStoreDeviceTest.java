package dev.shardopt.worker.store;

import static dev.shardopt.worker.store.TestModels.refused;
import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.dsl.Pipeline;
import dev.shardopt.engine.device.CpuBackend;
import dev.shardopt.engine.device.MemoryLimitedBackend;
import dev.shardopt.engine.kernel.ParallelApply;
import dev.shardopt.rpc.ApiException;
import dev.shardopt.v1.CreateShardsRequest;
import dev.shardopt.v1.Model;
import dev.shardopt.v1.Shard;
import dev.shardopt.v1.TensorSpec;
import io.grpc.Status;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** A worker's device memory: shards that do not fit are refused whole, and a deleted model frees its arrays. */
class ShardStoreDeviceTest {
  private final TestModels models = new TestModels();
  private final ParallelApply parallel = new ParallelApply(models.pool, 1);
  private final MemoryLimitedBackend device = new MemoryLimitedBackend(new CpuBackend(parallel), 100_000);
  private final ShardStore store = new ShardStore(new FakeCoordinator(Pipeline.parse("adam(1e-3)"), List.of("w")), device,
      parallel, models.timeouts, models.checkpoints);

  @AfterEach
  void stop() {
    store.close();
    models.close();
  }

  private static CreateShardsRequest request(String pipeline, int trainers, int n) {
    Model spec = Model.newBuilder().setName("models/m").setPipeline(Pipeline.parse(pipeline).toProto()).setTrainers(trainers)
        .addTensors(TensorSpec.newBuilder().setName("w").addShape(n)).build();
    return CreateShardsRequest.newBuilder().setModel(spec)
        .addShards(Shard.newBuilder().setTensor("w").setTensorIndex(0).setLength(n)).build();
  }

  @Test
  void shardsOverTheDevicesMemoryAreRefusedWithTheSizesAndNothingStaysAllocated() {
    // adam with 2 trainers: parameters, exp_avg, exp_avg_sq and the trainer mean's scratch, 4 arrays of
    // 16384 floats = 262144 bytes; the second 65536-byte array finds 100000 - 65536 = 34464 bytes free.
    ApiException e = refused(() -> store.create(request("adam(1e-3)", 2, 16_384)));
    assertThat(e.code()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
    assertThat(e.getMessage()).isEqualTo("worker workers/w1 cannot hold its shards of models/m: the shards need 262144 bytes"
        + " (1 shard of 16384 floats in all, each with parameters, 2 state slots, scratch) on the cpu device, which has"
        + " 100000 bytes free (the device memory limit of 100000 bytes has 34464 bytes free, 65536 asked); spread the model"
        + " over more workers or use a device with more memory");
    assertThat(device.info().usedByShardsBytes()).isZero();
    assertThat(store.models()).isEmpty();

    // the same name fits once it is smaller: sgd, one trainer, parameters alone, 4 x 20000 bytes
    WorkerModel m = store.create(request("sgd(0.1)", 1, 20_000));
    assertThat(device.info().usedByShardsBytes()).isEqualTo(80_000);
    assertThat(device.info().freeBytes()).isEqualTo(20_000);
    store.drop(m.name());
    assertThat(device.info().usedByShardsBytes()).isZero();
    assertThat(refused(() -> m.pull(0, List.of(), 1000, 1024).get(5, java.util.concurrent.TimeUnit.SECONDS)).code())
        .isEqualTo(Status.Code.NOT_FOUND);
  }
}
