package dev.shardopt.worker.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.rpc.TensorBytes;
import dev.shardopt.v1.CreateShardsRequest;
import dev.shardopt.v1.CreateShardsResponse;
import dev.shardopt.v1.Model;
import dev.shardopt.v1.PushHeader;
import dev.shardopt.v1.PushRequest;
import dev.shardopt.v1.PushResponse;
import dev.shardopt.v1.Shard;
import dev.shardopt.v1.TensorChunk;
import dev.shardopt.v1.TensorSpec;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.TimeUnit;
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

  @Test
  void pushChunkAtOffset2To63Minus1IsOutOfRangeNotInternal() throws Exception {
    // offset + count overflowed in the shard lookup, so the chunk was taken as inside w's shard and
    // decoded at index -1: IndexOutOfBoundsException, INTERNAL.
    RecordingCall<CreateShardsResponse> created = new RecordingCall<>();
    harness.service.createShards(CreateShardsRequest.newBuilder()
        .setModel(Model.newBuilder().setName("models/f").setPipeline(WorkerServiceFuzzTest.sgd.toProto()).setTrainers(1)
            .addTensors(TensorSpec.newBuilder().setName("w").addShape(4)))
        .addShards(Shard.newBuilder().setTensor("w").setTensorIndex(0).setLength(4)).build(), created);
    assertThat(created.error).isNull();
    RecordingCall<PushResponse> pushed = new RecordingCall<>();
    StreamObserver<PushRequest> in = harness.service.push(pushed);
    in.onNext(PushRequest.newBuilder().setHeader(PushHeader.newBuilder().setModel("models/f"))
        .setChunk(TensorChunk.newBuilder().setTensor("w").setOffset(Long.MAX_VALUE)
            .setData(TensorBytes.encode(new float[] {1}, 0, 1))).build());
    in.onCompleted();
    assertThat(pushed.done.await(10, TimeUnit.SECONDS)).isTrue();
    Status s = ((StatusRuntimeException) pushed.error).getStatus();
    assertThat(s.getCode()).isEqualTo(Status.Code.OUT_OF_RANGE);
    assertThat(s.getDescription()).isEqualTo("elements [9223372036854775807, 9223372036854775808) of 'w' are not"
        + " inside one shard on this worker (shards: [0, 4))");
    // past 2^63 (negative as a Java long) the offset is printed as the uint64 it is
    RecordingCall<PushResponse> unsigned = new RecordingCall<>();
    in = harness.service.push(unsigned);
    in.onNext(PushRequest.newBuilder().setHeader(PushHeader.newBuilder().setModel("models/f"))
        .setChunk(TensorChunk.newBuilder().setTensor("w").setOffset(-2)
            .setData(TensorBytes.encode(new float[] {1}, 0, 1))).build());
    in.onCompleted();
    assertThat(unsigned.done.await(10, TimeUnit.SECONDS)).isTrue();
    assertThat(((StatusRuntimeException) unsigned.error).getStatus().getDescription())
        .startsWith("elements [18446744073709551614, 18446744073709551615) of 'w'");
  }
}
