package dev.shardopt.client;

import dev.shardopt.dsl.Pipeline;
import dev.shardopt.v1.CheckpointModelRequest;
import dev.shardopt.v1.DeleteModelRequest;
import dev.shardopt.v1.GetMetricsRequest;
import dev.shardopt.v1.GetModelRequest;
import dev.shardopt.v1.GetShardMapRequest;
import dev.shardopt.v1.Model;
import dev.shardopt.v1.ShardMap;
import dev.shardopt.v1.TensorSpec;
import dev.shardopt.v1.TrainingMode;
import dev.shardopt.v1.UpdatePipelineRequest;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A model on a cluster. Its definition (tensors, trainers, mode) is fixed when it is created and
 * read once; {@link #step()} and {@link #describe()} ask the coordinator each time, the shard map
 * is fetched once and cached. Thread-safe.
 *
 * <p>The client keeps the model's pipeline schedule as the coordinator last sent it: when the
 * model was created or attached, after each {@link #updatePipeline} through this object, and when
 * a worker refuses an ASYNC push because another generation is in force at its step (a change made
 * by another client). An ASYNC trainer computes its statistics under the pipeline in force at the
 * step it pushes.
 *
 * <p>A model restored from a checkpoint ({@link ShardoptCluster#restoreModel}) continues at the
 * checkpoint's step: {@link #startStep()} is that step, and {@link #trainer} starts there (ASYNC:
 * each trainer at its own next push of the checkpoint's cut, {@link #startStep(int)}).
 */
public final class RemoteModel {
  private final ShardoptCluster cluster;
  private final String name;
  private final String id;
  private final List<TensorSpec> tensorSpecs;
  private final List<TensorInfo> tensors;
  private final int trainers;
  private final TrainingMode mode;
  private final int staleness;
  private final TrainerSchedule schedule;
  private final long startStep;
  private final List<Long> startPushes;
  private volatile ShardLayout layout;

  RemoteModel(ShardoptCluster cluster, Model model) {
    this(cluster, model, 0, List.of());
  }

  /**
   * @param startStep where the trainers start: a restored model's checkpoint step, or 0
   * @param startPushes ASYNC: per trainer, where it starts (a restored model's cut); empty for
   *     {@code startStep} (SYNC) or 0 (ASYNC)
   */
  RemoteModel(ShardoptCluster cluster, Model model, long startStep, List<Long> startPushes) {
    this.cluster = cluster;
    this.startStep = startStep;
    this.startPushes = List.copyOf(startPushes);
    this.name = model.getName();
    this.id = name.startsWith("models/") ? name.substring("models/".length()) : name;
    this.tensorSpecs = List.copyOf(model.getTensorsList());
    this.tensors = TensorInfo.of(tensorSpecs);
    this.trainers = Math.max(1, model.getTrainers());
    this.mode = model.getMode() == TrainingMode.ASYNC ? TrainingMode.ASYNC : TrainingMode.SYNC;
    this.staleness = model.getStaleness();
    this.schedule = new TrainerSchedule(model, this::describe);
  }

  /** The resource name, {@code models/{id}}. */
  public String name() {
    return name;
  }

  /** The model id, as given to createModel. */
  public String id() {
    return id;
  }

  /** The tensors, in model order. */
  public List<TensorSpec> tensors() {
    return tensorSpecs;
  }

  public List<String> tensorNames() {
    return tensors.stream().map(TensorInfo::name).toList();
  }

  /** K: the trainers that push each step. */
  public int trainers() {
    return trainers;
  }

  /** SYNC or ASYNC. */
  public TrainingMode mode() {
    return mode;
  }

  /** ASYNC: the staleness bound (0: none). */
  public int staleness() {
    return staleness;
  }

  /** The newest pipeline of the schedule this client knows of (see the class comment). */
  public Pipeline pipeline() {
    return schedule.latest().pipeline();
  }

  /** The pipeline in force at step {@code step} in the schedule this client knows of. */
  public Pipeline pipelineAt(long step) {
    return schedule.at(step).pipeline();
  }

  TrainerSchedule schedule() {
    return schedule;
  }

  /** The model as the coordinator has it now (state, step, failure, ...). */
  public Model describe() {
    return cluster.read("GetModel of " + name,
        () -> cluster.coordinator().getModel(GetModelRequest.newBuilder().setName(name).build()));
  }

  /**
   * The step this client's trainers start at: the checkpoint's step for a model restored by
   * {@link ShardoptCluster#restoreModel}, else 0. (A trainer in another process that attaches to a
   * restored model with {@link ShardoptCluster#model} starts at 0; give it
   * {@code trainer(rank, k).startingAt(model.step())}.)
   */
  public long startStep() {
    return startStep;
  }

  /**
   * The push index trainer {@code rank}'s {@link #trainer} starts at: {@link #startStep()} for a SYNC
   * model; for an ASYNC model restored from a checkpoint, that trainer's next push in the
   * checkpoint's cut (every lower push of it is in the checkpoint, and acknowledged as a duplicate
   * if sent again); else 0.
   */
  public long startStep(int rank) {
    if (rank < 0 || rank >= trainers) {
      throw new IllegalArgumentException("trainer rank must be in [0, " + trainers + ") for model " + name + ", got " + rank);
    }
    if (mode != TrainingMode.ASYNC) {
      return startStep;
    }
    return startPushes.isEmpty() ? 0 : startPushes.get(rank);
  }

  /** Steps completed: the version a pull at {@code min_step = step()} returns. */
  public long step() {
    return describe().getStep();
  }

  /** The shard map (fetched once, then cached). */
  public ShardMap shardMap() {
    return layout().proto();
  }

  ShardLayout layout() {
    ShardLayout l = layout;
    if (l == null) {
      synchronized (this) {
        l = layout;
        if (l == null) {
          ShardMap map = cluster.read("GetShardMap of " + name, () -> cluster.coordinator()
              .getShardMap(GetShardMapRequest.newBuilder().setName(name).build()));
          l = ShardLayout.of(map, tensors);
          layout = l;
        }
      }
    }
    return l;
  }

  /**
   * The shard map read again from the coordinator; it replaces the cached one when its epoch is
   * newer (a worker was declared dead and its shards' backups took over). Returns the newer of the two.
   */
  ShardLayout refreshLayout() {
    ShardMap map = cluster.read("GetShardMap of " + name, () -> cluster.coordinator()
        .getShardMap(GetShardMapRequest.newBuilder().setName(name).build()));
    ShardLayout fresh = ShardLayout.of(map, tensors);
    synchronized (this) {
      ShardLayout known = layout;
      if (known == null || fresh.epoch() > known.epoch()) {
        layout = fresh;
        return fresh;
      }
      return known;
    }
  }

  List<TensorInfo> tensorInfos() {
    return tensors;
  }

  ShardoptCluster cluster() {
    return cluster;
  }

  /**
   * The trainer of {@code rank} among {@code trainers}, which must be the model's K. Its first step
   * ({@link Trainer#nextStep()}) is {@link #startStep()}: 0, or a restored model's checkpoint step.
   *
   * @throws IllegalArgumentException when {@code trainers} is not K or the rank is out of range
   */
  public Trainer trainer(int rank, int trainers) {
    if (trainers != this.trainers) {
      throw new IllegalArgumentException(
          "model " + name + " was created for " + this.trainers + " trainer"
              + (this.trainers == 1 ? "" : "s") + ", but trainer(" + rank + ", " + trainers
              + ") says " + trainers);
    }
    if (rank < 0 || rank >= trainers) {
      throw new IllegalArgumentException(
          "trainer rank must be in [0, " + trainers + ") for model " + name + ", got " + rank);
    }
    return new Trainer(this, rank, startStep(rank));
  }

  /**
   * A consistent checkpoint of this model, written into {@code directory} as {@code
   * directory/step-<s>}. SYNC: at the next step boundary (the next multiple of the pipeline's
   * accumulate that the cluster has not passed). ASYNC: at a cut of the trainers' pushes that the
   * coordinator picks ({@link CheckpointInfo#nextPush()}): every shard has applied exactly pushes
   * 0 .. nextPush[r]-1 of each trainer r; pushes beyond the cut wait until every worker has copied its
   * shards. Returns once the checkpoint is complete; training waits only for the workers' snapshots
   * (copies into the files' page cache, forced to disk afterwards). The directory is resolved to an
   * absolute path here, and the
   * coordinator and every worker must reach it under that path (a shared filesystem when they run
   * on other machines). The call has its own deadline, {@link ClientOptions#checkpointDeadline()},
   * within which it is sent again, with backoff, while the coordinator does not answer (down or
   * restarting with its state dir).
   *
   * @throws ShardoptException FAILED_PRECONDITION while another checkpoint of the model runs, or
   *     for an ASYNC model whose pipeline accumulates; a worker's status (UNAVAILABLE, RESOURCE_EXHAUSTED, ...) when its write
   *     fails, which fails the checkpoint only, not the model
   */
  public CheckpointInfo checkpoint(Path directory) {
    return checkpoint(CheckpointModelRequest.newBuilder().setName(name)
        .setDirectory(ShardoptCluster.absolute(directory)).build());
  }

  /**
   * As {@link #checkpoint(Path)}, at step boundary {@code atStep}: the state after {@code atStep}
   * steps, of a SYNC model (an ASYNC one gets INVALID_ARGUMENT: its checkpoint is taken at the cut
   * the coordinator picks). It must be a multiple of the pipeline's accumulate (else INVALID_ARGUMENT), and the
   * cluster must not have passed it (else FAILED_PRECONDITION naming the steps still possible).
   * The call waits until the model reaches {@code atStep}.
   */
  public CheckpointInfo checkpoint(Path directory, long atStep) {
    if (atStep < 0) {
      throw new IllegalArgumentException("atStep must be >= 0, got " + atStep);
    }
    return checkpoint(CheckpointModelRequest.newBuilder().setName(name)
        .setDirectory(ShardoptCluster.absolute(directory)).setAtStep(atStep).build());
  }

  private CheckpointInfo checkpoint(CheckpointModelRequest request) {
    String what = "CheckpointModel of " + name + " into " + request.getDirectory()
        + (request.hasAtStep() ? " at step " + request.getAtStep() : "");
    // Sent again while the coordinator does not answer: a restarted one takes the checkpoint afresh
    // (the boundary, if not passed meanwhile, is the same; the killed attempt's directory stays partial).
    return CheckpointInfo.of(cluster.retried(what, cluster.options().checkpointDeadline(),
        stub -> stub.checkpointModel(request)));
  }

  /**
   * Changes hyperparameters, schedule or clipping from step {@code atStep} on (SYNC: the model's
   * step; ASYNC: each trainer's push index), on every shard at once: the coordinator adds a
   * generation to the model's pipeline schedule. It refuses (FAILED_PRECONDITION) a step that some
   * worker may have started, and a change that cannot carry the optimizer state over.
   *
   * @return this model
   */
  public RemoteModel updatePipeline(Pipeline pipeline, long atStep) {
    Objects.requireNonNull(pipeline, "pipeline");
    if (atStep < 0) {
      throw new IllegalArgumentException("atStep must be >= 0, got " + atStep);
    }
    Model updated = cluster.call("UpdatePipeline of " + name + " at step " + atStep,
        () -> cluster.coordinator().updatePipeline(UpdatePipelineRequest.newBuilder()
            .setName(name).setPipeline(pipeline.toProto()).setAtStep(atStep).build()));
    schedule.update(updated);
    return this;
  }

  /** Per-step statistics of every step the coordinator keeps. */
  public List<StepMetric> metrics() {
    return metrics(0);
  }

  /** Per-step statistics of the steps from {@code fromStep} on. */
  public List<StepMetric> metrics(long fromStep) {
    return cluster.read("GetMetrics of " + name, () -> cluster.coordinator()
            .getMetrics(GetMetricsRequest.newBuilder().setName(name).setFromStep(fromStep).build()))
        .getStepsList().stream().map(StepMetric::of).toList();
  }

  /** Deletes the model from the cluster. */
  public void delete() {
    cluster.call("DeleteModel of " + name, () -> cluster.coordinator()
        .deleteModel(DeleteModelRequest.newBuilder().setName(name).build()));
  }

  /** The parameters now, for an observer (e.g. evaluation) that is not a trainer. */
  public Map<String, float[]> pull() {
    return pull(0);
  }

  /** The parameters once the model has completed {@code minStep} steps. */
  public Map<String, float[]> pull(long minStep) {
    return pullParameters(minStep).tensors();
  }

  /** As {@link #pull(long)}, with the step of the version returned. */
  public PulledParameters pullParameters(long minStep) {
    if (minStep < 0) {
      throw new IllegalArgumentException("minStep must be >= 0, got " + minStep);
    }
    return cluster.workerCalls().pull(layout(), name, minStep, this::refreshLayout);
  }

  /**
   * As {@link #pullParameters(long)}, assembled straight into the caller's arrays instead of fresh
   * ones: a trainer that keeps its parameters pulls every step without allocating. {@code into} has
   * exactly the model's tensors, each array of the tensor's element count; the result's map holds
   * those same arrays. After a pull that throws (a worker failed, the pull was interrupted), the
   * arrays' contents are unspecified: some elements may hold the new version, some the old, some
   * neither is guaranteed; pull again before using them.
   *
   * @throws IllegalArgumentException before any call, naming the tensor, the array's length and the
   *     expected one, when a tensor is missing, extra or of the wrong length
   */
  public PulledParameters pullParametersInto(long minStep, Map<String, float[]> into) {
    if (minStep < 0) {
      throw new IllegalArgumentException("minStep must be >= 0, got " + minStep);
    }
    PullTargets.validate(name, tensors, into);
    return cluster.workerCalls().pull(layout(), name, minStep, this::refreshLayout, into);
  }

  @Override
  public String toString() {
    return "RemoteModel{" + name + ", " + tensors.size() + " tensors, " + trainers + " trainer"
        + (trainers == 1 ? "" : "s") + ", " + mode + "}";
  }
}
