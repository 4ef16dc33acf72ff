package dev.shardopt.coordinator;

import dev.shardopt.rpc.ApiException;
import dev.shardopt.rpc.TensorBytes;
import dev.shardopt.v1.CommitCopyRequest;
import dev.shardopt.v1.CopyShardsRequest;
import dev.shardopt.v1.CopyShardsResponse;
import dev.shardopt.rpc.security.GrpcSecurity;
import dev.shardopt.v1.CreateShardsRequest;
import dev.shardopt.v1.CreateShardsResponse;
import dev.shardopt.v1.DropModelRequest;
import dev.shardopt.v1.GetProgressRequest;
import dev.shardopt.v1.HoldPushesRequest;
import dev.shardopt.v1.HoldPushesResponse;
import dev.shardopt.v1.ModelProgress;
import dev.shardopt.v1.PersistShardsRequest;
import dev.shardopt.v1.PersistShardsResponse;
import dev.shardopt.v1.SnapshotShardsRequest;
import dev.shardopt.v1.SnapshotShardsResponse;
import dev.shardopt.v1.TensorChunk;
import dev.shardopt.v1.WorkerGrpc;
import dev.shardopt.v1.WriteParametersResponse;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.stream.LongStream;

/** {@link WorkerFleet} and {@link ShardCopier} over the Worker service, one channel per worker address. */
public final class GrpcWorkerFleet implements WorkerFleet, ShardCopier, AutoCloseable {
  private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();
  /** GetModel asks every worker for its progress: a hung worker must not stall it for long. */
  static final long PROGRESS_DEADLINE_MILLIS = 2_000;
  /** A worker writes its part of a checkpoint (gigabytes, fsynced) before it answers PersistShards. */
  static final long PERSIST_DEADLINE_MILLIS = 10 * 60_000;

  private final long deadlineMillis;
  private final long snapshotDeadlineMillis;
  private final GrpcSecurity security;

  /** Plaintext channels without a token (loopback clusters). */
  public GrpcWorkerFleet(long deadlineMillis, long snapshotDeadlineMillis) {
    this(deadlineMillis, snapshotDeadlineMillis, GrpcSecurity.plaintext());
  }

  /**
   * @param snapshotDeadlineMillis how long SnapshotShards may take: the worker waits for the step
   *     boundary first, so the barrier timeout
   * @param security the channels' credentials and the token they send (the workers accept it in role worker)
   */
  public GrpcWorkerFleet(long deadlineMillis, long snapshotDeadlineMillis, GrpcSecurity security) {
    this.deadlineMillis = deadlineMillis;
    this.snapshotDeadlineMillis = snapshotDeadlineMillis;
    this.security = security;
  }

  private ManagedChannel channel(String address) {
    return channels.computeIfAbsent(address, a -> security.channel(a)
        .maxInboundMessageSize(TensorBytes.MAX_MESSAGE_BYTES).build());
  }

  private WorkerGrpc.WorkerBlockingStub stub(String address) {
    return WorkerGrpc.newBlockingStub(channel(address)).withDeadlineAfter(deadlineMillis, TimeUnit.MILLISECONDS);
  }

  @Override
  public CreateShardsResponse createShards(String address, CreateShardsRequest request) {
    return call(address, "create shards of " + request.getModel().getName(), () -> stub(address).createShards(request));
  }

  /** Every worker's CreateShards at once, on gRPC's own threads; then waits for all of them. */
  @Override
  public Created createShards(Map<String, CreateShardsRequest> requests) {
    Map<String, CompletableFuture<CreateShardsResponse>> answers = new LinkedHashMap<>();
    requests.forEach((address, request) -> {
      CompletableFuture<CreateShardsResponse> answer = new CompletableFuture<>();
      try {
        WorkerGrpc.newStub(channel(address)).withDeadlineAfter(deadlineMillis, TimeUnit.MILLISECONDS)
            .createShards(request, answerInto(answer, CreateShardsResponse.getDefaultInstance()));
      } catch (RuntimeException e) {
        answer.completeExceptionally(e);
      }
      answers.put(address, answer);
    });
    Map<String, CreateShardsResponse> created = new LinkedHashMap<>();
    Map<String, RuntimeException> failed = new LinkedHashMap<>();
    answers.forEach((address, answer) -> {
      try {
        created.put(address, answer.join());
      } catch (CompletionException e) {
        Throwable cause = e.getCause();
        failed.put(address, cause instanceof StatusRuntimeException sre
            ? failure(address, "create shards of " + requests.get(address).getModel().getName(), sre)
            : cause instanceof RuntimeException r ? r : new IllegalStateException(cause));
      }
    });
    return new Created(created, failed);
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

  @Override
  public SnapshotShardsResponse snapshotShards(String address, String model, long step, String path) {
    return call(address, "snapshot the shards of " + model + " at step " + step,
        () -> stub(address).withDeadlineAfter(snapshotDeadlineMillis, TimeUnit.MILLISECONDS)
            .snapshotShards(SnapshotShardsRequest.newBuilder().setModel(model).setStep(step).setPath(path).build()));
  }

  @Override
  public HoldPushesResponse holdPushes(String address, String model, boolean release) {
    return call(address, (release ? "release the hold on the pushes of " : "hold the pushes of ") + model,
        () -> stub(address).withDeadlineAfter(snapshotDeadlineMillis, TimeUnit.MILLISECONDS)
            .holdPushes(HoldPushesRequest.newBuilder().setModel(model).setRelease(release).build()));
  }

  @Override
  public SnapshotShardsResponse snapshotAtCut(String address, String model, long[] cut, String path) {
    return call(address, "snapshot the shards of " + model + " at the cut " + Arrays.toString(cut),
        () -> stub(address).withDeadlineAfter(snapshotDeadlineMillis, TimeUnit.MILLISECONDS)
            .snapshotShards(SnapshotShardsRequest.newBuilder().setModel(model).setStep(LongStream.of(cut).sum())
                .addAllNextPush(LongStream.of(cut).boxed().toList()).setPath(path).build()));
  }

  @Override
  public PersistShardsResponse persistShards(String address, String model, long step, String path) {
    return call(address, "persist its shards of " + model + " at step " + step + " in " + path,
        () -> stub(address).withDeadlineAfter(PERSIST_DEADLINE_MILLIS, TimeUnit.MILLISECONDS)
            .persistShards(PersistShardsRequest.newBuilder().setModel(model).setStep(step).setPath(path).build()));
  }

  /**
   * The source's stream with manual flow control ({@link OnDemandStream}): each message is requested
   * only when the reader asks for the next, so the source sends no faster than the copy is written.
   */
  @Override
  public Iterator<CopyShardsResponse> copyShards(String address, CopyShardsRequest request) {
    String what = "copy its shards of " + request.getModel() + " at step " + request.getStep();
    OnDemandStream<CopyShardsRequest, CopyShardsResponse> stream = new OnDemandStream<>();
    call(address, what, () -> {
      WorkerGrpc.newStub(channel(address)).withDeadlineAfter(PERSIST_DEADLINE_MILLIS, TimeUnit.MILLISECONDS)
          .copyShards(request, stream);
      return null;
    });
    return new Iterator<>() {
      @Override
      public boolean hasNext() {
        return call(address, what, stream::hasNext);
      }

      @Override
      public CopyShardsResponse next() {
        return call(address, what, stream::next);
      }
    };
  }

  /**
   * Takes each chunk from {@code chunks} only once the WriteParameters stream is ready for it
   * ({@link ReadyGatedUpload}): with {@link #copyShards}'s stream as {@code chunks}, the relay is
   * flow-controlled end to end, holding at most one chunk of its own beside gRPC's windows.
   */
  @Override
  public void writeCopy(String address, Iterator<TensorChunk> chunks) {
    ReadyGatedUpload<TensorChunk, WriteParametersResponse> upload =
        new ReadyGatedUpload<>(WriteParametersResponse.getDefaultInstance());
    WorkerGrpc.newStub(channel(address)).withDeadlineAfter(PERSIST_DEADLINE_MILLIS, TimeUnit.MILLISECONDS)
        .writeParameters(upload);
    upload.send(chunks);
    try {
      upload.answer().join();
    } catch (CompletionException e) {
      Throwable cause = e.getCause();
      throw cause instanceof StatusRuntimeException sre ? failure(address, "write the copy it is given", sre)
          : cause instanceof RuntimeException r ? r : new IllegalStateException(cause);
    }
  }

  @Override
  public void commitCopy(String address, CommitCopyRequest request) {
    call(address, (request.getAbort() ? "abort the copy of " : "commit the copy of ") + request.getModel() + " at step "
        + request.getStep(), () -> stub(address).commitCopy(request));
  }

  /** An observer of a one-answer call that completes {@code answer} (with {@code none} when the call ends without one). */
  private static <T> StreamObserver<T> answerInto(CompletableFuture<T> answer, T none) {
    return new StreamObserver<>() {
      @Override
      public void onNext(T value) {
        answer.complete(value);
      }

      @Override
      public void onError(Throwable t) {
        answer.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {
        answer.complete(none);
      }
    };
  }

  private static <T> T call(String address, String what, Supplier<T> r) {
    try {
      return r.get();
    } catch (StatusRuntimeException e) {
      throw failure(address, what, e);
    }
  }

  private static ApiException failure(String address, String what, StatusRuntimeException e) {
    return new ApiException(e.getStatus().getCode(), "worker " + address + " could not " + what + ": "
        + e.getStatus().getDescription());
  }

  @Override
  public void close() {
    channels.values().forEach(ManagedChannel::shutdownNow);
  }
}
