package dev.shardopt.worker.server;

import com.google.protobuf.ByteString;
import com.google.protobuf.Empty;
import dev.shardopt.rpc.ApiException;
import dev.shardopt.rpc.TensorBytes;
import dev.shardopt.rpc.wire.Received;
import dev.shardopt.rpc.wire.ServiceRebinding;
import dev.shardopt.rpc.wire.WorkerWire;
import dev.shardopt.v1.CommitCopyRequest;
import dev.shardopt.v1.CopyShardsRequest;
import dev.shardopt.v1.CopyShardsResponse;
import dev.shardopt.v1.CreateShardsRequest;
import dev.shardopt.v1.CreateShardsResponse;
import dev.shardopt.v1.DropModelRequest;
import dev.shardopt.v1.HoldPushesRequest;
import dev.shardopt.v1.HoldPushesResponse;
import dev.shardopt.v1.PersistShardsRequest;
import dev.shardopt.v1.PersistShardsResponse;
import dev.shardopt.v1.SnapshotShardsRequest;
import dev.shardopt.v1.SnapshotShardsResponse;
import dev.shardopt.checkpoint.FileRange;
import dev.shardopt.v1.PullRequest;
import dev.shardopt.v1.PullResponse;
import dev.shardopt.v1.PushHeader;
import dev.shardopt.v1.PushRequest;
import dev.shardopt.v1.PushResponse;
import dev.shardopt.v1.GetProgressRequest;
import dev.shardopt.v1.ModelProgress;
import dev.shardopt.v1.TensorChunk;
import dev.shardopt.v1.WorkerGrpc;
import dev.shardopt.v1.WriteParametersResponse;
import dev.shardopt.engine.ShardSpec;
import dev.shardopt.engine.kernel.ReductionBlocks;
import dev.shardopt.worker.store.GradientPush;
import dev.shardopt.worker.store.ParameterSnapshot;
import dev.shardopt.worker.store.PushChecksum;
import dev.shardopt.worker.store.ShardStore;
import dev.shardopt.worker.store.WorkerModel;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import jakarta.inject.Inject;
import jakarta.inject.Named;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongConsumer;
import java.util.function.Supplier;
import java.util.stream.LongStream;

/** The Worker gRPC service: translates protobuf to {@link ShardStore} and {@link WorkerModel} calls. */
public final class WorkerService extends WorkerGrpc.WorkerImplBase {
  /** Largest data of one TensorChunk, in a push or WriteParameters (service.proto). */
  static final int MAX_CHUNK_BYTES = 4 << 20;

  private final ShardStore store;
  private final WorkerConfig config;
  private final Supplier<String> workerName;
  private final WorkerObserver observer;
  /** Where copies are read and sent: each waits for its reader, with its model's shards monitor held. */
  private final Executor copySenders = Executors.newCachedThreadPool(WorkerServer.daemon("copy-sender"));
  private final WorkerWire wire = new WorkerWire();

  /** A service without metrics. */
  public WorkerService(ShardStore store, WorkerConfig config) {
    this(store, config, () -> "workers/unregistered", WorkerObserver.NONE);
  }

  /**
   * @param workerName this worker's name as the coordinator gave it (for the observer's labels)
   * @param observer told of every answered push, pull and checkpoint phase
   */
  public WorkerService(ShardStore store, WorkerConfig config, Supplier<String> workerName, WorkerObserver observer) {
    this.store = store;
    this.config = config;
    this.workerName = workerName;
    this.observer = observer;
  }

  @Inject
  WorkerService(ShardStore store, WorkerConfig config, @Named("workerName") AtomicReference<String> name,
      WorkerObserver observer) {
    this(store, config, name::get, observer);
  }

  /**
   * The service as served (not {@link #bindService}, the generated binding): Push and WriteParameters parse their chunks over gRPC's receive buffers
   * (no copy of the tensor data before it is decoded into its destination), each message's buffers
   * released as soon as {@link #push}'s or {@link #writeParameters}'s observer has taken it; the
   * other methods keep the generated binding. Same method names and wire format as service.proto.
   */
  public ServerServiceDefinition definition() {
    return ServiceRebinding.replace(bindService(), List.of(
        ServerMethodDefinition.create(wire.pushServer(),
            ServerCalls.asyncClientStreamingCall(this::pushReceived)),
        ServerMethodDefinition.create(wire.writeParametersServer(),
            ServerCalls.asyncClientStreamingCall(this::writeParametersReceived))));
  }

  /** Received messages whose gRPC buffers are not released yet: 0 whenever no push or upload is being decoded. */
  int wireBuffersHeld() {
    return wire.held();
  }

  /** Messages parsed over gRPC's buffers without a copy. */
  long aliasedParses() {
    return wire.aliasedParses();
  }

  /** Data-plane messages parsed by copying (see {@code ReceivingMarshaller#copiedParses}). */
  long copiedParses() {
    return wire.copiedParses();
  }

  @Override
  public void createShards(CreateShardsRequest request, StreamObserver<CreateShardsResponse> response) {
    unary(response, () -> CreateShardsResponse.newBuilder()
        .addAllRestored(store.create(request).restoredFrom().stream().map(FileRange::toProto).toList()).build());
  }

  @Override
  public void dropModel(DropModelRequest request, StreamObserver<Empty> response) {
    unary(response, () -> {
      store.drop(request.getModel());
      observer.modelDropped(workerName.get(), request.getModel());
      return Empty.getDefaultInstance();
    });
  }

  @Override
  public void getProgress(GetProgressRequest request, StreamObserver<ModelProgress> response) {
    unary(response, () -> progress(store.get(request.getModel())).build());
  }

  @Override
  public void snapshotShards(SnapshotShardsRequest request, StreamObserver<SnapshotShardsResponse> response) {
    // Returns at once; the step that completes request.step, the push that reaches the cut, or the
    // timeout answers.
    long started = System.nanoTime();
    if (request.getNextPushCount() > 0) {
      long[] cut = request.getNextPushList().stream().mapToLong(Long::longValue).toArray();
      async(response, () -> store.get(request.getModel())
          .copyAtCut(request.getStep(), cut, directory(request.getPath()))
          .thenApply(c -> copied(request.getModel(), started, SnapshotShardsResponse.newBuilder().setBytes(c.bytes())
              .setUpdatesApplied(c.updatesApplied()).setStepsSkipped(c.stepsSkipped()).build())));
      return;
    }
    async(response, () -> store.get(request.getModel())
        .snapshotShards(request.getStep(), directory(request.getPath()), config.waitMillis())
        .thenApply(bytes -> copied(request.getModel(), started, SnapshotShardsResponse.newBuilder().setBytes(bytes).build())));
  }

  private SnapshotShardsResponse copied(String model, long startedNanos, SnapshotShardsResponse answer) {
    observer.shardsCopied(workerName.get(), model, answer.getBytes(), secondsSince(startedNanos));
    return answer;
  }

  private static double secondsSince(long startedNanos) {
    return (System.nanoTime() - startedNanos) / 1e9;
  }

  @Override
  public void holdPushes(HoldPushesRequest request, StreamObserver<HoldPushesResponse> response) {
    if (request.getRelease()) {
      unary(response, () -> {
        store.get(request.getModel()).releasePushes();
        return HoldPushesResponse.getDefaultInstance();
      });
      return;
    }
    // Returns at once; the model's earlier checkpoint finishing its write (or the timeout) answers.
    async(response, () -> store.get(request.getModel()).holdPushes(config.waitMillis())
        .thenApply(next -> HoldPushesResponse.newBuilder().addAllNextPush(LongStream.of(next).boxed().toList()).build()));
  }

  @Override
  public void persistShards(PersistShardsRequest request, StreamObserver<PersistShardsResponse> response) {
    // Returns at once; the checkpoint executor answers once the files are forced to disk.
    long started = System.nanoTime();
    async(response, () -> store.get(request.getModel()).persistShards(request.getStep(), directory(request.getPath()))
        .thenApply(ranges -> {
          observer.shardsPersisted(workerName.get(), request.getModel(), ranges.stream().mapToLong(FileRange::length).sum(),
              secondsSince(started));
          return PersistShardsResponse.newBuilder().addAllRanges(ranges.stream().map(FileRange::toProto).toList()).build();
        }));
  }

  private static Path directory(String path) {
    if (path.isEmpty()) {
      throw ApiException.invalidArgument("path is required: the checkpoint attempt's directory");
    }
    try {
      return Path.of(path);
    } catch (InvalidPathException e) {
      throw ApiException.invalidArgument("path '" + path + "' is not a path: " + e.getMessage());
    }
  }

  /** A model's counters as published after its last step: reading them never waits for a running one. */
  static ModelProgress.Builder progress(WorkerModel m) {
    return ModelProgress.newBuilder().setModel(m.name()).setStep(m.version())
        .setUpdatesApplied(m.updatesApplied()).setStepsSkipped(m.stepsSkipped())
        .setPushes(m.pushesReceived()).setDuplicates(m.duplicatesReceived())
        .addAllNextPush(LongStream.of(m.nextPushes()).boxed().toList());
  }

  @Override
  public StreamObserver<TensorChunk> writeParameters(StreamObserver<WriteParametersResponse> response) {
    return new CopiedMessages<>(writeParametersReceived(response), TensorChunk::getData);
  }

  /**
   * WriteParameters as served: each chunk's data may be a view of gRPC's buffers, released when
   * {@code onNext} returns, whatever happened.
   */
  StreamObserver<Received<TensorChunk>> writeParametersReceived(StreamObserver<WriteParametersResponse> response) {
    return new StreamObserver<>() {
      WorkerModel model;
      long elements;
      boolean failed;

      @Override
      public void onNext(Received<TensorChunk> received) {
        try (received) {
          take(received);
        }
      }

      private void take(Received<TensorChunk> received) {
        if (failed) {
          return;
        }
        TensorChunk chunk = received.message();
        try {
          if (model == null) {
            model = store.get(chunk.getModel());
          }
          float[] values = decode(chunk, received);
          store.countIn(received.dataSize());
          if (model.copying()) { // a re-replicated copy: parameters and state slots
            model.writeCopy(chunk.getTensor(), chunk.getSlot(), chunk.getOffset(), values);
          } else if (!chunk.getSlot().isEmpty()) {
            throw ApiException.invalidArgument("chunk.slot '" + chunk.getSlot() + "' is set, but " + model.name()
                + " is not being copied onto this worker: WriteParameters writes initial parameters (slot \"\")");
          } else {
            model.writeParameters(chunk.getTensor(), chunk.getOffset(), values);
          }
          elements += values.length;
        } catch (RuntimeException e) {
          failed = true;
          response.onError(ApiException.toStatus(e));
        }
      }

      @Override
      public void onError(Throwable t) {
        failed = true;
      }

      @Override
      public void onCompleted() {
        if (!failed) {
          response.onNext(WriteParametersResponse.newBuilder().setElements(elements).build());
          response.onCompleted();
        }
      }
    };
  }

  @Override
  public StreamObserver<PushRequest> push(StreamObserver<PushResponse> response) {
    return new CopiedMessages<>(pushReceived(response), r -> r.getChunk().getData());
  }

  /**
   * Push as served: each chunk's data may be a view of gRPC's buffers; it is decoded into the
   * gradient and released when {@code onNext} returns, whatever happened (refused, after an
   * earlier failure, a duplicate push that will be discarded).
   */
  StreamObserver<Received<PushRequest>> pushReceived(StreamObserver<PushResponse> response) {
    return new StreamObserver<>() {
      PushHeader header;
      WorkerModel model;
      float[][] gradient;
      SentRanges[] covered;
      int[] firstNonFinite; // per shard: the lowest index of a NaN/Inf decoded so far, or MAX_VALUE
      final PushChecksum checksum = new PushChecksum();
      final long started = System.nanoTime();
      long bytes;
      boolean failed;

      @Override
      public void onNext(Received<PushRequest> received) {
        try (received) {
          take(received);
        }
      }

      private void take(Received<PushRequest> received) {
        if (failed) {
          return;
        }
        PushRequest request = received.message();
        try {
          if (header == null) {
            if (!request.hasHeader()) {
              throw ApiException.invalidArgument("the first message of a push must carry its header (model, trainer, step)");
            }
            header = request.getHeader();
            model = store.get(header.getModel());
            gradient = model.newGradient();
            covered = new SentRanges[gradient.length];
            firstNonFinite = new int[gradient.length];
            java.util.Arrays.fill(firstNonFinite, Integer.MAX_VALUE);
          } else if (request.hasHeader()) {
            throw ApiException.invalidArgument("a push carries one header, in its first message");
          }
          if (request.hasChunk()) {
            TensorChunk chunk = request.getChunk();
            int n = floats(chunk, received.dataSize());
            int i = model.shardFor(chunk.getTensor(), chunk.getOffset(), n);
            ShardSpec s = model.shards().get(i);
            List<java.nio.ByteBuffer> data = received.data();
            int from = (int) (chunk.getOffset() - s.offset());
            if (covered[i] == null) {
              covered[i] = new SentRanges();
            }
            if (!covered[i].add(from, from + n)) {
              throw ApiException.invalidArgument("elements [" + chunk.getOffset() + ", " + (chunk.getOffset() + n)
                  + ") of '" + chunk.getTensor() + "' are sent twice in one push");
            }
            // Each piece of bytes (at most 64 KiB) is checksummed right before it is decoded, so the decode
            // reads it from cache, and the NaN/Inf check runs on each decoded run while it is in cache: the
            // data is read from memory once (about 6% less than checksum, then decode; CopyCosts p11, p12).
            float[] g = gradient[i];
            int shard = i;
            PushChecksum.Chunk crc = new PushChecksum.Chunk();
            TensorBytes.decode(data, g, from, crc::update, (f, t) -> {
              int bad = ReductionBlocks.firstNonFinite(g, f, t);
              if (bad >= 0 && bad < firstNonFinite[shard]) {
                firstNonFinite[shard] = bad;
              }
            });
            checksum.add(s.tensorIndex(), chunk.getOffset(), crc);
            store.countIn(received.dataSize());
            bytes += received.dataSize();
          }
        } catch (RuntimeException e) {
          failed = true;
          if (gradient != null) {
            model.release(gradient);
            gradient = null;
          }
          response.onError(ApiException.toStatus(e));
        }
      }

      @Override
      public void onError(Throwable t) {
        failed = true; // the client went away: nothing was recorded
        if (gradient != null) {
          model.release(gradient);
          gradient = null;
        }
      }

      @Override
      public void onCompleted() {
        if (failed) {
          return;
        }
        try {
          if (header == null) {
            throw ApiException.invalidArgument("an empty push: send a header and the gradient chunks");
          }
          for (int i = 0; i < gradient.length; i++) {
            ShardSpec s = model.shards().get(i);
            long have = covered[i] == null ? 0 : covered[i].elements();
            if (have != s.length()) {
              int missing = covered[i] == null ? 0 : covered[i].firstMissing();
              // Left out entirely: allowed when frozen at the push's step, which the model checks.
              if (have == 0) {
                gradient[i] = null;
                continue;
              }
              throw ApiException.invalidArgument("the push of step " + header.getStep() + " misses elements of '"
                  + s.name() + "' from " + (s.offset() + missing) + " (it covers " + have + " of this worker's "
                  + s.length() + " elements [" + s.offset() + ", " + (s.offset() + s.length()) + "))");
            }
          }
        } catch (RuntimeException e) {
          if (gradient != null) {
            model.release(gradient);
          }
          response.onError(ApiException.toStatus(e));
          return;
        }
        int[] first = java.util.Arrays.stream(firstNonFinite).map(f -> f == Integer.MAX_VALUE ? -1 : f).toArray();
        GradientPush p = new GradientPush((int) header.getTrainer(), header.getStep(), gradient, checksum.value(),
            header.getGradientNormSquared(), header.getNonFinite(),
            header.hasPipelineGeneration() ? OptionalLong.of(header.getPipelineGeneration()) : OptionalLong.empty(),
            header.getEpoch(), first);
        // The model takes the gradient over; the handler thread returns while an SSP push waits.
        model.push(p, config.waitMillis()).whenComplete((ack, e) -> {
          if (e != null) {
            response.onError(ApiException.toStatus(WorkerModel.unwrap(e)));
            return;
          }
          response.onNext(PushResponse.newBuilder()
              .setStep(ack.step()).setDuplicate(ack.duplicate()).setModelStep(ack.modelStep()).build());
          response.onCompleted();
          observer.pushed(workerName.get(), header.getModel(), bytes, secondsSince(started), ack.duplicate());
        });
      }
    };
  }

  @Override
  public void copyShards(CopyShardsRequest request, StreamObserver<CopyShardsResponse> response) {
    WorkerModel model = modelOrError(request.getModel(), response);
    if (model == null) {
      return;
    }
    List<long[]> starts = starts(request.getShardsList());
    int perChunk = config.chunkBytes() / Float.BYTES;
    // Each chunk goes out only once the coordinator's relay reads on: its new worker's pace.
    ReadyWaitingSender<CopyShardsResponse> sender = new ReadyWaitingSender<>(
        (ServerCallStreamObserver<CopyShardsResponse>) response, config.waitMillis());
    // The hold is taken now; the step that completes request.step (or the timeout) sends the copy,
    // on a thread of its own (it waits for the reader, with the shards' monitor held).
    model.holdForCopy(request.getStep(), starts, config.waitMillis()).thenRunAsync(() -> {
      CopyShardsResponse.Builder counters = CopyShardsResponse.newBuilder().setStep(request.getStep())
          .setUpdatesApplied(model.updatesApplied()).setStepsSkipped(model.stepsSkipped());
      model.sendCopy(request.getStep(), starts, perChunk, (shard, slot, offset, values, n) -> {
        ByteString data = TensorBytes.encode(values, 0, n);
        store.countOut(data.size());
        sender.send(counters.setChunk(TensorChunk.newBuilder().setTensor(shard.name()).setSlot(slot)
            .setOffset(offset).setData(data)).build());
      });
    }, copySenders).whenComplete((done, e) -> {
      if (e != null) {
        response.onError(ApiException.toStatus(WorkerModel.unwrap(e)));
      } else {
        response.onCompleted();
      }
    });
  }

  @Override
  public void commitCopy(CommitCopyRequest request, StreamObserver<Empty> response) {
    unary(response, () -> {
      store.get(request.getModel()).commitCopy(request.getStep(), request.getEpoch(), request.getAbort());
      return Empty.getDefaultInstance();
    });
  }

  @Override
  public void pull(PullRequest request, StreamObserver<PullResponse> response) {
    long started = System.nanoTime();
    ServerCallStreamObserver<PullResponse> call = (ServerCallStreamObserver<PullResponse>) response;
    FlowControlledSender<PullResponse> sender = new FlowControlledSender<>(call);
    WorkerModel model = modelOrError(request.getModel(), response);
    if (model == null) {
      return;
    }
    int perChunk = config.chunkBytes() / Float.BYTES;
    // Returns at once; the step that completes min_step sends the snapshot.
    List<long[]> starts = starts(request.getShardsList());
    model.pull(request.getMinStep(), request.getTensorsList(), starts, config.waitMillis(), perChunk)
        .whenComplete((snap, e) -> {
      if (e != null) {
        response.onError(ApiException.toStatus(WorkerModel.unwrap(e)));
      } else {
        // The snapshot's buffers are reused for a later version once released: only after its last message was
        // serialized (gRPC does that inside onNext) or the call was cancelled or failed.
        sender.start(chunks(snap, perChunk,
            bytes -> observer.pulled(workerName.get(), request.getModel(), bytes, secondsSince(started))), snap::release);
      }
    });
  }

  /** The model, or null once {@code response} got the error (NOT_FOUND) instead. */
  private WorkerModel modelOrError(String name, StreamObserver<?> response) {
    try {
      return store.get(name);
    } catch (RuntimeException e) {
      response.onError(ApiException.toStatus(e));
      return null;
    }
  }

  /** Each ShardStart as {tensor index, offset}. */
  private static List<long[]> starts(List<dev.shardopt.v1.ShardStart> shards) {
    return shards.stream().map(st -> new long[] {st.getTensorIndex(), st.getOffset()}).toList();
  }

  /** The snapshot's messages, lazily; {@code sent} gets their data bytes once the last one is taken. */
  private Iterator<PullResponse> chunks(ParameterSnapshot snap, int perChunk, LongConsumer sent) {
    List<int[]> plan = new ArrayList<>(); // {shard, chunk}
    for (int i = 0; i < snap.shards().size(); i++) {
      for (int c = 0; c < snap.chunkCount(i); c++) {
        plan.add(new int[] {i, c});
      }
    }
    if (plan.isEmpty()) {
      sent.accept(0);
    }
    return new Iterator<>() {
      int next;
      long bytes;

      @Override
      public boolean hasNext() {
        return next < plan.size();
      }

      @Override
      public PullResponse next() {
        if (!hasNext()) {
          throw new NoSuchElementException();
        }
        int[] p = plan.get(next++);
        ShardSpec s = snap.shards().get(p[0]);
        ByteString data = snap.chunk(p[0], p[1]); // copied out of the parameters now if no pull did yet
        store.countOut(data.size());
        bytes += data.size();
        if (next == plan.size()) {
          sent.accept(bytes);
        }
        return PullResponse.newBuilder()
            .setStep(snap.step())
            .setChunk(TensorChunk.newBuilder().setTensor(s.name()).setOffset((long) s.offset() + (long) p[1] * perChunk).setData(data))
            .build();
      }
    };
  }

  /** The number of floats in a chunk of {@code dataBytes} bytes of data, checked. */
  private static int floats(TensorChunk chunk, int dataBytes) {
    if (dataBytes > MAX_CHUNK_BYTES) {
      throw ApiException.invalidArgument("chunk of '" + chunk.getTensor() + "' has " + dataBytes
          + " bytes of data; the limit is " + MAX_CHUNK_BYTES + " bytes (4 MiB) per chunk: split it");
    }
    int n = TensorBytes.floatCount(dataBytes);
    if (n < 0) {
      throw ApiException.invalidArgument("chunk of '" + chunk.getTensor() + "' has " + dataBytes
          + " bytes, which is not a whole number of little-endian float32 values (4 bytes each)");
    }
    return n;
  }

  private static float[] decode(TensorChunk chunk, Received<TensorChunk> received) {
    float[] values = new float[floats(chunk, received.dataSize())];
    TensorBytes.decode(received.data(), values, 0);
    return values;
  }

  private interface Call<T> {
    T run();
  }

  /** Answers with what {@code call}'s future completes with, from whichever thread completes it. */
  private static <T> void async(StreamObserver<T> response, Call<CompletableFuture<T>> call) {
    CompletableFuture<T> result;
    try {
      result = call.run();
    } catch (RuntimeException e) {
      response.onError(ApiException.toStatus(e));
      return;
    }
    result.whenComplete((r, e) -> {
      if (e != null) {
        response.onError(ApiException.toStatus(WorkerModel.unwrap(e)));
      } else {
        response.onNext(r);
        response.onCompleted();
      }
    });
  }

  private static <T> void unary(StreamObserver<T> response, Call<T> call) {
    T result;
    try {
      result = call.run();
    } catch (RuntimeException e) {
      response.onError(ApiException.toStatus(e));
      return;
    }
    response.onNext(result);
    response.onCompleted();
  }
}
