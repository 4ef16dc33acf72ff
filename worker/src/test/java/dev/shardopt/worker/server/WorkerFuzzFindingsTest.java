package dev.shardopt.worker.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.v1.CreateShardsRequest;
import dev.shardopt.v1.CreateShardsResponse;
import dev.shardopt.v1.Model;
import dev.shardopt.v1.Shard;
import dev.shardopt.v1.TensorSpec;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** One test per input the worker's fuzz target found (docs/fuzzing.md lists them). */
class WorkerFuzzFindingsTest {

  private final WorkerServiceFuzzTest.Harness harness = new WorkerServiceFuzzTest.Harness();

  @AfterEach
  void stop() {
    harness.close();
  }

  private Status create(long[] shape, long offset, long length) {
    TensorSpec.Builder t = TensorSpec.newBuilder().setName("w");
    for (long d : shape) {
      t.addShape(d);
    }
    RecordingCall<CreateShardsResponse> call = new RecordingCall<>();
    harness.service.createShards(CreateShardsRequest.newBuilder()
        .setModel(Model.newBuilder().setName("models/f").setPipeline(WorkerServiceFuzzTest.sgd.toProto()).addTensors(t))
        .addShards(Shard.newBuilder().setTensor("w").setTensorIndex(0).setOffset(offset).setLength(length)).build(), call);
    assertThat(harness.store.models()).isEmpty();
    return ((StatusRuntimeException) call.error).getStatus();
  }

  @Test
  void shardLength2To63IsInvalidArgumentNotInternal() {
    // Math.toIntExact(length) threw ArithmeticException: INTERNAL, "integer overflow".
    Status s = create(new long[] {4}, 0, Long.MIN_VALUE);
    assertThat(s.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(s.getDescription()).isEqualTo("shard [0, +9223372036854775808) of 'w' is outside the tensor's 4 elements");
  }

  @Test
  void shardLengthPastTheTensorIsRefusedBeforeItsArrayIsAllocated() {
    // length 2^31 - 9 on a 4-element tensor: float[length] (8 GiB) came before the range check.
    Status s = create(new long[] {4}, 0, Integer.MAX_VALUE - 8);
    assertThat(s.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(s.getDescription()).isEqualTo("shard [0, +2147483639) of 'w' is outside the tensor's 4 elements");
  }

  @Test
  void shapeWhoseProductOverflowsALongIsInvalidArgument() {
    // [2^32, 2^32]: Math.multiplyExact threw ArithmeticException in TensorShape.
    Status s = create(new long[] {1L << 32, 1L << 32}, 0, 4);
    assertThat(s.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(s.getDescription()).isEqualTo("tensor 'w' has shape [4294967296, 4294967296], more than 2147483639"
        + " elements; at most that many per tensor");
  }
}
