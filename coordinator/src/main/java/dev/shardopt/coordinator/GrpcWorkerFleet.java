package dev.shardopt.coordinator;

import dev.shardopt.rpc.ApiException;
import dev.shardopt.rpc.TensorBytes;
import dev.shardopt.v1.CreateShardsRequest;
import dev.shardopt.v1.DropModelRequest;
import dev.shardopt.v1.GetProgressRequest;
import dev.shardopt.v1.ModelProgress;
import dev.shardopt.v1.WorkerGrpc;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.util.Map;
import java.util.function.Supplier;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/** {@link WorkerFleet} over the Worker service, one channel per worker address. */
public final class GrpcWorkerFleet implements WorkerFleet, AutoCloseable {
  private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();
  /** GetModel asks every worker for its progress: a hung worker must not stall it for long. */
  static final long PROGRESS_DEADLINE_MILLIS = 2_000;

  private final long deadlineMillis;

  public GrpcWorkerFleet(long deadlineMillis) {
    this.deadlineMillis = deadlineMillis;
  }

  private WorkerGrpc.WorkerBlockingStub stub(String address) {
    ManagedChannel ch = channels.computeIfAbsent(address, a -> NettyChannelBuilder.forTarget(a).usePlaintext()
        .maxInboundMessageSize(TensorBytes.MAX_MESSAGE_BYTES).build());
    return WorkerGrpc.newBlockingStub(ch).withDeadlineAfter(deadlineMillis, TimeUnit.MILLISECONDS);
  }

  @Override
  public void createShards(String address, CreateShardsRequest request) {
    call(address, "create shards of " + request.getModel().getName(), () -> stub(address).createShards(request));
  }

  @Override
  public void dropModel(String address, String model) {
    call(address, "drop " + model, () -> stub(address).dropModel(DropModelRequest.newBuilder().setModel(model).build()));
  }

  @Override
  public ModelProgress progress(String address, String model) {
    return call(address, "report the progress of " + model,
        () -> stub(address).withDeadlineAfter(PROGRESS_DEADLINE_MILLIS, TimeUnit.MILLISECONDS)
            .getProgress(GetProgressRequest.newBuilder().setModel(model).build()));
  }

  private static <T> T call(String address, String what, Supplier<T> r) {
    try {
      return r.get();
    } catch (StatusRuntimeException e) {
      throw new ApiException(e.getStatus().getCode(), "worker " + address + " could not " + what + ": "
          + e.getStatus().getDescription());
    }
  }

  @Override
  public void close() {
    channels.values().forEach(ManagedChannel::shutdownNow);
  }
}
