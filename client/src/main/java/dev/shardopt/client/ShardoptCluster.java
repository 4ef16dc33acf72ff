package dev.shardopt.client;

import dev.shardopt.rpc.security.BearerToken;
import dev.shardopt.rpc.local.InProcessEndpoints;
import dev.shardopt.rpc.security.GrpcSecurity;
import dev.shardopt.rpc.security.TlsFiles;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.rpc.CoordinatorAnswers;
import dev.shardopt.v1.ClusterStatus;
import dev.shardopt.v1.CoordinatorGrpc;
import dev.shardopt.v1.CreateModelRequest;
import dev.shardopt.v1.DeleteModelRequest;
import dev.shardopt.v1.GetModelRequest;
import dev.shardopt.v1.GetStatusRequest;
import dev.shardopt.v1.ListModelsRequest;
import dev.shardopt.v1.Model;
import dev.shardopt.v1.ModelState;
import dev.shardopt.v1.ParsePipelineRequest;
import dev.shardopt.v1.TrainingMode;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * A client of one Shardopt cluster: a channel to the coordinator (control plane) and, made on
 * first use, one channel per worker (data plane). Thread-safe. {@link #close()} shuts the channels
 * down, then closes the resources the cluster owns (an embedded cluster's servers).
 */
public class ShardoptCluster implements AutoCloseable {
  /** The trailer on every answer of the coordinator: an UNAVAILABLE without it means no coordinator answered. */

  private final String target;
  private final ClientOptions options;
  private final AutoCloseable ownedResources;
  private final ManagedChannel coordinatorChannel;
  private final ChannelPool workerChannels;
  private final GrpcSecurity security;
  private final WorkerCalls workerCalls;
  private final AtomicBoolean closed = new AtomicBoolean();

  /**
   * A client of the coordinator at {@code coordinatorTarget} ({@code host:port}, or any gRPC
   * target) with the default options.
   *
   * @param ownedResources closed by {@link #close()} after the channels, e.g. the servers of an
   *     embedded cluster; may be null
   */
  public ShardoptCluster(String coordinatorTarget, AutoCloseable ownedResources) {
    this(coordinatorTarget, ClientOptions.defaults(), ownedResources);
  }

  public ShardoptCluster(String coordinatorTarget, ClientOptions options,
      AutoCloseable ownedResources) {
    this(coordinatorTarget, options, ownedResources, null);
  }

  /**
   * As {@link #ShardoptCluster(String, ClientOptions, AutoCloseable)}, calling the servers of this
   * process that {@code inProcess} lists through gRPC's in-process transport (an embedded cluster's).
   *
   * @param inProcess may be null: every call over the network
   */
  public ShardoptCluster(String coordinatorTarget, ClientOptions options, AutoCloseable ownedResources,
      InProcessEndpoints inProcess) {
    this.target = Objects.requireNonNull(coordinatorTarget, "coordinatorTarget");
    this.options = Objects.requireNonNull(options, "options");
    this.ownedResources = ownedResources;
    GrpcSecurity.Builder securityBuilder = GrpcSecurity.builder()
        .tls(options.tls() == null ? new TlsFiles(null, null, null) : options.tls())
        .token(options.token() != null ? options.token() : BearerToken.resolve(null, System.getenv()));
    if (inProcess != null) {
      securityBuilder.inProcess(inProcess);
    }
    this.security = securityBuilder.build();
    this.coordinatorChannel = ChannelPool.channel(security, coordinatorTarget);
    this.workerChannels = new ChannelPool(security);
    this.workerCalls = new WorkerCalls(workerChannels, options);
  }

  /** The coordinator's target. */
  public String target() {
    return target;
  }

  public ClientOptions options() {
    return options;
  }

  // ------------------------------------------------------------------------------------ models

  /** Creates a SYNC model with one trainer; see {@link #createModel(ModelOptions)}. */
  public RemoteModel createModel(String id, Pipeline pipeline, TensorDef... tensors) {
    return createModel(ModelOptions.named(id).pipeline(pipeline).tensors(tensors));
  }

  /**
   * Creates the model, writes the values of its tensors with explicit values to the workers, and
   * waits until the model is READY (within {@link ClientOptions#readyTimeout()}). When anything
   * after the creation fails, the model is deleted again (best effort) and the error thrown.
   *
   * @throws IllegalArgumentException when the options are incomplete
   * @throws ShardoptException when the coordinator or a worker refuses
   */
  public RemoteModel createModel(ModelOptions model) {
    Model created = call("CreateModel of '" + model.id() + "'", () -> coordinator().createModel(
        CreateModelRequest.newBuilder().setModelId(model.id()).setModel(model.toProto()).build()));
    RemoteModel remote = new RemoteModel(this, created);
    return deletedOnFailure(remote, () -> {
      Map<String, float[]> uploads = new LinkedHashMap<>();
      for (TensorDef t : model.tensors()) {
        if (t.isUpload()) {
          uploads.put(t.name(), t.valuesUnsafe());
        }
      }
      if (!uploads.isEmpty()) {
        workerCalls.upload(remote.layout(), remote.name(), uploads);
      }
      awaitReady(remote, !uploads.isEmpty());
      return remote;
    });
  }

  /**
   * Creates model {@code id} from a checkpoint and waits until it is READY: the coordinator
   * checks every file, places the tensors on the cluster's current workers, whatever their number,
   * and checks what they read against the manifest's checksums before the model exists. The model
   * continues at the checkpoint's step with its pipeline schedule, trainers and mode; its {@link
   * RemoteModel#trainer trainers} start at that step (ASYNC: each at its next push of the
   * checkpoint's cut).
   *
   * @param checkpointOrDirectory a checkpoint ({@code DIR/step-<s>}) or a directory of checkpoints,
   *     whose latest complete one is used. It is resolved to an absolute path here and read by the
   *     coordinator and the workers under that path: on a multi-node cluster it must be on a
   *     filesystem they all mount at the same place.
   * @throws ShardoptException FAILED_PRECONDITION (a missing, truncated or corrupt file) or
   *     INVALID_ARGUMENT (not a checkpoint, a newer format), naming the file; nothing is created
   */
  public RemoteModel restoreModel(String id, Path checkpointOrDirectory) {
    ModelOptions.checkId(id);
    String from = absolute(checkpointOrDirectory);
    Model created = call("CreateModel of '" + id + "' from checkpoint " + from,
        () -> coordinator().createModel(
            CreateModelRequest.newBuilder().setModelId(id).setRestoreFrom(from).build()));
    RemoteModel remote = new RemoteModel(this, created);
    return deletedOnFailure(remote, () -> {
      Model ready = awaitReady(remote, false);
      return new RemoteModel(this, ready, ready.getStep(),
          ready.getMode() == TrainingMode.ASYNC ? ready.getNextPushList() : List.of());
    });
  }

  /** Runs {@code rest} of a model's creation; when it fails, deletes the model (best effort). */
  private RemoteModel deletedOnFailure(RemoteModel remote, Supplier<RemoteModel> rest) {
    try {
      return rest.get();
    } catch (RuntimeException e) {
      try {
        coordinator().deleteModel(DeleteModelRequest.newBuilder().setName(remote.name()).build());
      } catch (RuntimeException d) {
        e.addSuppressed(d);
      }
      throw e;
    }
  }

  /** {@code path} as the absolute, normalized string the coordinator and workers are sent. */
  static String absolute(Path path) {
    Objects.requireNonNull(path, "path");
    return path.toAbsolutePath().normalize().toString();
  }

  /** Waits until the model is READY and returns it as GetModel answered then. */
  private Model awaitReady(RemoteModel remote, boolean uploaded) {
    Duration timeout = options.readyTimeout();
    long deadline = System.nanoTime() + timeout.toNanos();
    long sleepMillis = 5;
    while (true) {
      Model m = remote.describe();
      if (m.getState() == ModelState.READY) {
        return m;
      }
      if (m.getState() == ModelState.FAILED) {
        throw new ShardoptException(Status.Code.FAILED_PRECONDITION, target,
            "model " + remote.name() + " failed while loading: " + m.getFailure(), m.getFailure(),
            null);
      }
      if (System.nanoTime() - deadline > 0) {
        throw new ShardoptException(Status.Code.DEADLINE_EXCEEDED, target,
            "model " + remote.name() + " is still " + m.getState() + " after " + timeout.toMillis()
                + " ms" + (uploaded ? " (its initial values were written)" : ""), "", null);
      }
      try {
        Thread.sleep(sleepMillis);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new ShardoptException(Status.Code.CANCELLED, target,
            "interrupted while waiting for " + remote.name() + " to become READY", "", e);
      }
      sleepMillis = Math.min(sleepMillis * 2, 200);
    }
  }

  /** The existing model {@code id} (or {@code models/id}), e.g. to train it from another process. */
  public RemoteModel model(String id) {
    String name = id.startsWith("models/") ? id : "models/" + id;
    ModelOptions.checkId(name.substring("models/".length()));
    Model m = read("GetModel of " + name,
        () -> coordinator().getModel(GetModelRequest.newBuilder().setName(name).build()));
    return new RemoteModel(this, m);
  }

  /** The ids of the cluster's models. */
  public List<String> listModels() {
    return read("ListModels", () -> coordinator().listModels(ListModelsRequest.getDefaultInstance()))
        .getModelsList().stream()
        .map(m -> m.getName().startsWith("models/") ? m.getName().substring(7) : m.getName())
        .toList();
  }

  /**
   * Asks the coordinator to read a pipeline in the DSL text form, as CreateModel would, without
   * creating anything: the canonical text and message, or the errors (a typo names its column and
   * the closest method). An invalid text is an answer, not an exception.
   *
   * @param tensorNames parameter names to check the parameter rules against (two lrScale globs
   *     matching one name is an error); may be empty
   * @throws ShardoptException INVALID_ARGUMENT for an empty text; UNAVAILABLE when no coordinator answers
   */
  public PipelineCheck parsePipeline(String text, List<String> tensorNames) {
    Objects.requireNonNull(text, "text");
    ParsePipelineRequest request = ParsePipelineRequest.newBuilder().setPipelineText(text)
        .addAllTensorNames(tensorNames).build();
    return PipelineCheck.of(read("ParsePipeline", () -> coordinator().parsePipeline(request)));
  }

  /** {@link #parsePipeline(String, List)} without tensor names. */
  public PipelineCheck parsePipeline(String text) {
    return parsePipeline(text, List.of());
  }

  /** Workers, their health and traffic, and the models, from the coordinator. */
  public ClusterStatus status() {
    return read("GetStatus", () -> coordinator().getStatus(GetStatusRequest.getDefaultInstance()));
  }

  // ------------------------------------------------------------------------------------ plumbing

  /** A blocking coordinator stub with the call deadline. */
  CoordinatorGrpc.CoordinatorBlockingStub coordinator() {
    return coordinator(options.rpcDeadline());
  }

  /** A blocking coordinator stub with {@code deadline}. */
  CoordinatorGrpc.CoordinatorBlockingStub coordinator(Duration deadline) {
    if (closed.get()) {
      throw new IllegalStateException("the cluster client is closed");
    }
    return CoordinatorGrpc.newBlockingStub(coordinatorChannel)
        .withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS);
  }

  WorkerCalls workerCalls() {
    if (closed.get()) {
      throw new IllegalStateException("the cluster client is closed");
    }
    return workerCalls;
  }

  /** Runs a coordinator call, turning its error into a ShardoptException naming {@code what}. */
  <T> T call(String what, Supplier<T> rpc) {
    try {
      return rpc.get();
    } catch (StatusRuntimeException e) {
      throw ShardoptException.of(e, what + " at coordinator " + target, target, security.tls());
    }
  }

  /**
   * Runs a coordinator call that reads (so may be sent twice), again with backoff while the
   * coordinator does not answer (down or restarting: UNAVAILABLE without its answer trailer), within
   * {@link ClientOptions#rpcDeadline()} in all; then as {@link #call}.
   */
  <T> T read(String what, Supplier<T> rpc) {
    return retried(what, options.rpcDeadline(), stub -> rpc.get());
  }

  /**
   * Runs a coordinator call that may be sent twice, again with a backoff doubling from {@link
   * ClientOptions#retryBackoff()} to 2 s while the coordinator does not answer, within {@code deadline}
   * in all: each attempt gets a stub with what is left of it. Then as {@link #call}.
   */
  <T> T retried(String what, Duration deadline, Function<CoordinatorGrpc.CoordinatorBlockingStub, T> rpc) {
    try {
      return CoordinatorAnswers.retryWhileUnanswered(coordinatorChannel, System.nanoTime() + deadline.toNanos(),
          Math.max(10, options.retryBackoff().toMillis()), 2_000,
          left -> rpc.apply(coordinator(Duration.ofMillis(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left))))));
    } catch (StatusRuntimeException e) {
      throw ShardoptException.of(e, what + " at coordinator " + target, target, security.tls());
    }
  }

  /** Shuts down the channels, then closes the owned resources. Idempotent. */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    workerChannels.close();
    coordinatorChannel.shutdown();
    ChannelPool.shutdownAll(List.of(coordinatorChannel));
    security.close();
    if (ownedResources != null) {
      try {
        ownedResources.close();
      } catch (Exception e) {
        if (e instanceof InterruptedException) {
          Thread.currentThread().interrupt();
        }
        throw new IllegalStateException("closing the cluster's resources failed: " + e, e);
      }
    }
  }

  @Override
  public String toString() {
    return "ShardoptCluster{" + target + "}";
  }
}
