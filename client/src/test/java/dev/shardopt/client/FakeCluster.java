package dev.shardopt.client;

import com.google.protobuf.Empty;
import dev.shardopt.rpc.TensorBytes;
import dev.shardopt.v1.Checkpoint;
import dev.shardopt.v1.CheckpointModelRequest;
import dev.shardopt.v1.CoordinatorGrpc;
import dev.shardopt.v1.CreateModelRequest;
import dev.shardopt.v1.DeleteModelRequest;
import dev.shardopt.v1.GetMetricsRequest;
import dev.shardopt.v1.GetModelRequest;
import dev.shardopt.v1.GetShardMapRequest;
import dev.shardopt.v1.Model;
import dev.shardopt.v1.ModelMetrics;
import dev.shardopt.v1.ModelState;
import dev.shardopt.v1.PipelineGeneration;
import dev.shardopt.v1.PullRequest;
import dev.shardopt.v1.PullResponse;
import dev.shardopt.v1.PushHeader;
import dev.shardopt.v1.PushRequest;
import dev.shardopt.v1.PushResponse;
import dev.shardopt.v1.Shard;
import dev.shardopt.v1.ShardMap;
import dev.shardopt.v1.StepMetrics;
import dev.shardopt.v1.TensorChunk;
import dev.shardopt.v1.TensorSpec;
import dev.shardopt.v1.TrainingMode;
import dev.shardopt.v1.UpdatePipelineRequest;
import dev.shardopt.v1.WorkerGrpc;
import dev.shardopt.v1.WriteParametersResponse;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.ToLongBiFunction;

/**
 * A fake coordinator and two fake workers on loopback, holding one model with the shard layout of
 * {@link Fixtures} (w split across A and B at 8192, b and c on B). The workers record what they are
 * sent and serve pulls from their {@code params}. The coordinator keeps each model's pipeline
 * schedule (generation 0 at creation, one more per UpdatePipeline), and the workers refuse an ASYNC
 * push whose pipeline_generation is not the one in force at its step, as the real ones do.
 * CheckpointModel records the model at the step it names (nothing is written to disk), and
 * CreateModel with restore_from creates the model recorded at that path, or at the latest step
 * under it, with both workers at the checkpoint's step.
 */
final class FakeCluster implements AutoCloseable {

  static Server serve(io.grpc.BindableService service) throws IOException {
    return NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .maxInboundMessageSize(TensorBytes.MAX_MESSAGE_BYTES)
        .addService(service)
        .build()
        .start();
  }

  /** One received push: its header and its chunks. */
  record Push(PushHeader header, List<TensorChunk> chunks) {}

  static final class FakeWorker extends WorkerGrpc.WorkerImplBase {
    final List<Push> pushes = new CopyOnWriteArrayList<>();
    final List<List<TensorChunk>> writes = new CopyOnWriteArrayList<>();
    final List<PullRequest> pulls = new CopyOnWriteArrayList<>();
    final Set<String> seen = ConcurrentHashMap.newKeySet();
    /** Pushes to fail with this status after recording them (the answer is "lost"). */
    final AtomicInteger failPushes = new AtomicInteger();
    final AtomicReference<Status> failWith = new AtomicReference<>(Status.UNAVAILABLE);
    final Map<String, float[]> params = new ConcurrentHashMap<>();
    /** When 0 or more, a pull sends this many chunks and then fails (INTERNAL): a pull that breaks midway. */
    volatile int failPullAfterChunks = -1;
    volatile long step;
    volatile List<Shard> shards = List.of();
    Runnable onWrite = () -> {};
    /** The generation in force at (model, step), as this worker knows it. */
    volatile ToLongBiFunction<String, Long> generationAt = (model, step) -> 0;

    @Override
    public StreamObserver<PushRequest> push(StreamObserver<PushResponse> response) {
      return new StreamObserver<>() {
        PushHeader header;
        final List<TensorChunk> chunks = new ArrayList<>();

        @Override
        public void onNext(PushRequest r) {
          if (header == null) {
            header = r.getHeader();
          } else {
            chunks.add(r.getChunk());
          }
        }

        @Override
        public void onError(Throwable t) {}

        @Override
        public void onCompleted() {
          pushes.add(new Push(header, List.copyOf(chunks)));
          String key = header.getTrainer() + "/" + header.getStep();
          boolean duplicate = seen.contains(key);
          if (!duplicate && header.hasPipelineGeneration()) {
            long inForce = generationAt.applyAsLong(header.getModel(), header.getStep());
            if (header.getPipelineGeneration() != inForce) {
              response.onError(Status.FAILED_PRECONDITION.withDescription("step " + header.getStep()
                  + " of " + header.getModel() + " is under pipeline generation " + inForce
                  + ", not " + header.getPipelineGeneration()).asRuntimeException());
              return;
            }
          }
          seen.add(key);
          if (failPushes.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
            response.onError(failWith.get().asRuntimeException());
            return;
          }
          response.onNext(PushResponse.newBuilder().setStep(header.getStep())
              .setDuplicate(duplicate).setModelStep(step).build());
          response.onCompleted();
        }
      };
    }

    @Override
    public StreamObserver<TensorChunk> writeParameters(StreamObserver<WriteParametersResponse> response) {
      return new StreamObserver<>() {
        final List<TensorChunk> chunks = new ArrayList<>();

        @Override
        public void onNext(TensorChunk c) {
          chunks.add(c);
        }

        @Override
        public void onError(Throwable t) {}

        @Override
        public void onCompleted() {
          writes.add(List.copyOf(chunks));
          onWrite.run();
          long n = chunks.stream().mapToLong(c -> c.getData().size() / 4).sum();
          response.onNext(WriteParametersResponse.newBuilder().setElements(n).build());
          response.onCompleted();
        }
      };
    }

    @Override
    public void pull(PullRequest request, StreamObserver<PullResponse> response) {
      pulls.add(request);
      if (request.getMinStep() > step) {
        step = request.getMinStep(); // as if it had waited for the other trainers
      }
      int sent = 0;
      for (ChunkPlan.Span s : ChunkPlan.spans(shards, 1000, null)) {
        if (sent++ == failPullAfterChunks) {
          response.onError(Status.INTERNAL.withDescription("the worker broke mid-stream").asRuntimeException());
          return;
        }
        response.onNext(PullResponse.newBuilder().setStep(step)
            .setChunk(ChunkPlan.encode(s, params)).build());
      }
      response.onCompleted();
    }
  }

  final class FakeCoordinator extends CoordinatorGrpc.CoordinatorImplBase {
    final Map<String, Model> models = new ConcurrentHashMap<>();
    final List<UpdatePipelineRequest> updates = new CopyOnWriteArrayList<>();
    final AtomicInteger deletes = new AtomicInteger();
    final List<CheckpointModelRequest> checkpointRequests = new CopyOnWriteArrayList<>();
    final List<CreateModelRequest> restoreRequests = new CopyOnWriteArrayList<>();
    /** The checkpoints taken, by path: the model at the checkpoint's step. */
    final Map<String, Model> checkpoints = new ConcurrentHashMap<>();
    /** A CheckpointModel call waits for this before it answers. */
    volatile CountDownLatch checkpointGate = new CountDownLatch(0);
    /** CheckpointModel calls still to answer UNAVAILABLE without the coordinator's trailer, as a coordinator that is down. */
    final AtomicInteger checkpointsUnanswered = new AtomicInteger();
    /** A model restored while this is set fails after its creation, with this message. */
    volatile String restoreFailure;

    @Override
    public void createModel(CreateModelRequest request, StreamObserver<Model> response) {
      String name = "models/" + request.getModelId();
      if (models.containsKey(name)) {
        response.onError(Status.ALREADY_EXISTS.withDescription("model " + name + " exists").asRuntimeException());
        return;
      }
      if (!request.getRestoreFrom().isEmpty()) {
        restore(name, request, response);
        return;
      }
      boolean upload = request.getModel().getTensorsList().stream().anyMatch(t -> t.getInit().hasUpload());
      Model m = request.getModel().toBuilder().setName(name)
          .setState(upload ? ModelState.LOADING : ModelState.READY)
          .addPipelineSchedule(PipelineGeneration.newBuilder()
              .setGeneration(0).setFromStep(0).setPipeline(request.getModel().getPipeline()))
          .build();
      models.put(name, m);
      response.onNext(m);
      response.onCompleted();
    }

    private void restore(String name, CreateModelRequest request, StreamObserver<Model> response) {
      restoreRequests.add(request);
      String from = request.getRestoreFrom();
      Model saved = checkpoints.containsKey(from) ? checkpoints.get(from)
          : checkpoints.entrySet().stream().filter(e -> e.getKey().startsWith(from + "/step-"))
              .max(Map.Entry.comparingByKey()).map(Map.Entry::getValue).orElse(null);
      if (saved == null) {
        response.onError(Status.FAILED_PRECONDITION.withDescription(
            from + "/manifest.json: no such file").asRuntimeException());
        return;
      }
      String failure = restoreFailure;
      Model m = saved.toBuilder().setName(name)
          .setState(failure == null ? ModelState.READY : ModelState.FAILED)
          .setFailure(failure == null ? "" : failure).build();
      a.step = saved.getStep();
      b.step = saved.getStep();
      models.put(name, m);
      response.onNext(m.toBuilder().clearStep().build());
      response.onCompleted();
    }

    @Override
    public void checkpointModel(CheckpointModelRequest request, StreamObserver<Checkpoint> response) {
      checkpointRequests.add(request);
      try {
        checkpointGate.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        response.onError(Status.CANCELLED.asRuntimeException());
        return;
      }
      if (checkpointsUnanswered.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
        response.onError(Status.UNAVAILABLE.withDescription("connection refused").asRuntimeException());
        return;
      }
      Model m = models.get(request.getName());
      if (m.getMode() == TrainingMode.ASYNC && request.hasAtStep()) {
        response.onError(Status.INVALID_ARGUMENT.withDescription(
            "at_step is for SYNC models: " + m.getName() + " is ASYNC").asRuntimeException());
        return;
      }
      long step = request.hasAtStep() ? request.getAtStep() : Math.min(a.step, b.step);
      String path = request.getDirectory() + "/step-" + String.format("%010d", step);
      checkpoints.put(path, m.toBuilder().setStep(step).build());
      long elements = m.getTensorsList().stream()
          .mapToLong(t -> t.getShapeList().stream().reduce(1L, (x, y) -> x * y)).sum();
      response.onNext(Checkpoint.newBuilder().setModel(m.getName()).setStep(step).setPath(path)
          .setBytes(elements * Float.BYTES).setSnapshotMillis(1.25).setTotalMillis(40.5).build());
      response.onCompleted();
    }

    @Override
    public void getModel(GetModelRequest request, StreamObserver<Model> response) {
      Model m = models.get(request.getName());
      if (m == null) {
        response.onError(Status.NOT_FOUND.withDescription("no model " + request.getName()).asRuntimeException());
        return;
      }
      if (m.getState() == ModelState.LOADING && loaded()) {
        m = m.toBuilder().setState(ModelState.READY).build();
        models.put(m.getName(), m);
      }
      response.onNext(m.toBuilder().setStep(Math.min(a.step, b.step)).build());
      response.onCompleted();
    }

    @Override
    public void getShardMap(GetShardMapRequest request, StreamObserver<ShardMap> response) {
      response.onNext(map.toBuilder().setModel(request.getName()).build());
      response.onCompleted();
    }

    @Override
    public void deleteModel(DeleteModelRequest request, StreamObserver<Empty> response) {
      deletes.incrementAndGet();
      models.remove(request.getName());
      response.onNext(Empty.getDefaultInstance());
      response.onCompleted();
    }

    @Override
    public void updatePipeline(UpdatePipelineRequest request, StreamObserver<Model> response) {
      updates.add(request);
      Model updated = models.compute(request.getName(), (name, m) -> m.toBuilder()
          .setPipeline(request.getPipeline())
          .addPipelineSchedule(PipelineGeneration.newBuilder()
              .setGeneration(m.getPipelineScheduleCount()).setFromStep(request.getAtStep())
              .setPipeline(request.getPipeline()))
          .build());
      response.onNext(updated);
      response.onCompleted();
    }

    /** The highest generation among the entries starting at or before {@code step}. */
    long generationAt(String model, long step) {
      return models.get(model).getPipelineScheduleList().stream()
          .filter(g -> g.getFromStep() <= step)
          .mapToLong(PipelineGeneration::getGeneration).max().orElseThrow();
    }

    @Override
    public void getMetrics(GetMetricsRequest request, StreamObserver<ModelMetrics> response) {
      ModelMetrics.Builder b = ModelMetrics.newBuilder().setModel(request.getName());
      for (long s = request.getFromStep(); s <= 3; s++) {
        b.addSteps(StepMetrics.newBuilder().setStep(s).setUpdate(s).setLearningRate(0.1)
            .setGradientNorm(s * 2.0).setClippedNorm(s));
      }
      response.onNext(b.build());
      response.onCompleted();
    }
  }

  final FakeWorker a = new FakeWorker();
  final FakeWorker b = new FakeWorker();
  final FakeCoordinator coordinator = new FakeCoordinator();
  final Server workerA;
  final Server workerB;
  final Server coordinatorServer;
  /** What GetShardMap answers; a test may point it elsewhere before the model is created. */
  volatile ShardMap map;
  private final Set<String> writers = new HashSet<>();

  FakeCluster() throws IOException {
    workerA = serve(a);
    workerB = serve(b);
    coordinatorServer = serve(coordinator);
    map = Fixtures.map(address(workerA), address(workerB));
    Map<String, List<Shard>> byAddress = new HashMap<>();
    for (Shard s : map.getShardsList()) {
      byAddress.computeIfAbsent(s.getAddress(), k -> new ArrayList<>()).add(s);
    }
    a.shards = byAddress.get(addressA());
    b.shards = byAddress.get(addressB());
    a.onWrite = () -> written(addressA());
    b.onWrite = () -> written(addressB());
    a.generationAt = coordinator::generationAt;
    b.generationAt = coordinator::generationAt;
  }

  private synchronized void written(String address) {
    writers.add(address);
  }

  /** Every worker holding a shard of an upload tensor has had its WriteParameters. */
  private synchronized boolean loaded() {
    Set<String> need = new HashSet<>();
    for (Model m : coordinator.models.values()) {
      for (TensorSpec t : m.getTensorsList()) {
        if (t.getInit().hasUpload()) {
          map.getShardsList().stream().filter(s -> s.getTensor().equals(t.getName()))
              .forEach(s -> need.add(s.getAddress()));
        }
      }
    }
    return writers.containsAll(need);
  }

  static String address(Server s) {
    return "127.0.0.1:" + s.getPort();
  }

  String addressA() {
    return address(workerA);
  }

  String addressB() {
    return address(workerB);
  }

  String coordinatorAddress() {
    return address(coordinatorServer);
  }

  @Override
  public void close() {
    for (Server s : List.of(workerA, workerB, coordinatorServer)) {
      s.shutdownNow();
    }
    try {
      for (Server s : List.of(workerA, workerB, coordinatorServer)) {
        s.awaitTermination(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
