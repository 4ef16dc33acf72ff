package dev.shardopt.embedded;

import com.google.protobuf.ByteString;
import dev.shardopt.rpc.TensorBytes;
import dev.shardopt.v1.PushHeader;
import dev.shardopt.v1.PushRequest;
import dev.shardopt.v1.PushResponse;
import dev.shardopt.v1.TensorChunk;
import dev.shardopt.v1.WorkerGrpc;
import dev.shardopt.v1.WriteParametersResponse;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * Raw calls to one worker, as a client written in another language makes them from service.proto
 * alone: hand-made chunks, no client-side checks. Each call answers its status code and keeps the
 * description and the last response for the test to read.
 */
final class RawWorker implements AutoCloseable {
  private final ManagedChannel channel;
  volatile String lastDescription;
  volatile PushResponse lastResponse;

  RawWorker(String address) {
    // Room for chunks over the 4 MiB limit, so that the worker (not this channel) refuses them.
    this.channel = NettyChannelBuilder.forTarget(address).usePlaintext()
        .maxInboundMessageSize(2 * TensorBytes.MAX_MESSAGE_BYTES).build();
  }

  /** One chunk: {@code data} as given, at element {@code offset} of {@code tensor}. */
  static TensorChunk chunk(String tensor, long offset, ByteString data) {
    return TensorChunk.newBuilder().setTensor(tensor).setOffset(offset).setData(data).build();
  }

  /** Little-endian float32, without TensorBytes' chunk limit, to build oversized chunks too. */
  static ByteString floats(float[] v) {
    ByteBuffer b = ByteBuffer.allocate(v.length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
    b.asFloatBuffer().put(v);
    return ByteString.copyFrom(b.array());
  }

  /** A push of whole tensors, one chunk each. */
  Status.Code push(String model, int trainer, long step, Map<String, float[]> tensors) throws Exception {
    List<TensorChunk> chunks = new ArrayList<>();
    tensors.forEach((name, values) -> chunks.add(chunk(name, 0, floats(values))));
    return push(model, trainer, step, chunks.toArray(TensorChunk[]::new));
  }

  Status.Code push(String model, int trainer, long step, TensorChunk... chunks) throws Exception {
    List<PushRequest> messages = new ArrayList<>();
    messages.add(PushRequest.newBuilder()
        .setHeader(PushHeader.newBuilder().setModel(model).setTrainer(trainer).setStep(step)).build());
    for (TensorChunk c : chunks) {
      messages.add(PushRequest.newBuilder().setChunk(c).build());
    }
    return call(messages, answer -> WorkerGrpc.newStub(channel).withDeadlineAfter(20, TimeUnit.SECONDS)
        .push(observer(answer, r -> lastResponse = r)));
  }

  /** WriteParameters of one whole tensor. */
  Status.Code write(String model, String tensor, float[] values) throws Exception {
    TensorChunk c = chunk(tensor, 0, floats(values)).toBuilder().setModel(model).build();
    return call(List.of(c), answer -> WorkerGrpc.newStub(channel).withDeadlineAfter(20, TimeUnit.SECONDS)
        .writeParameters(observer(answer, (WriteParametersResponse r) -> {})));
  }

  /**
   * The values of the one shard of tensor {@code tensorIndex} starting at {@code offset} that this
   * worker holds, at version {@code minStep} or later: a Pull naming that shard only.
   */
  float[] pullShard(String model, long minStep, int tensorIndex, long offset, int length) {
    java.util.Iterator<dev.shardopt.v1.PullResponse> it = WorkerGrpc.newBlockingStub(channel)
        .withDeadlineAfter(20, TimeUnit.SECONDS)
        .pull(dev.shardopt.v1.PullRequest.newBuilder().setModel(model).setMinStep(minStep)
            .addShards(dev.shardopt.v1.ShardStart.newBuilder().setTensorIndex(tensorIndex).setOffset(offset)).build());
    float[] out = new float[length];
    int filled = 0;
    while (it.hasNext()) {
      TensorChunk c = it.next().getChunk();
      java.nio.FloatBuffer f = c.getData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
      int at = Math.toIntExact(c.getOffset() - offset);
      int n = f.remaining();
      f.get(out, at, n);
      filled += n;
    }
    if (filled != length) {
      throw new AssertionError("pulled " + filled + " values of a shard of " + length);
    }
    return out;
  }

  private <Q> Status.Code call(List<Q> messages, Function<CompletableFuture<Status>, StreamObserver<Q>> start)
      throws Exception {
    CompletableFuture<Status> answer = new CompletableFuture<>();
    StreamObserver<Q> requests = start.apply(answer);
    messages.forEach(requests::onNext);
    requests.onCompleted();
    Status s = answer.get(20, TimeUnit.SECONDS);
    lastDescription = s.getDescription();
    return s.getCode();
  }

  private static <R> StreamObserver<R> observer(CompletableFuture<Status> answer, java.util.function.Consumer<R> onAnswer) {
    return new StreamObserver<>() {
      @Override
      public void onNext(R value) {
        onAnswer.accept(value);
      }

      @Override
      public void onError(Throwable t) {
        answer.complete(Status.fromThrowable(t));
      }

      @Override
      public void onCompleted() {
        answer.complete(Status.OK);
      }
    };
  }

  @Override
  public void close() {
    channel.shutdownNow();
  }
}
