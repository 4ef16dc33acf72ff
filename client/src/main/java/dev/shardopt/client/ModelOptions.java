package dev.shardopt.client;

import dev.shardopt.dsl.Pipeline;
import dev.shardopt.v1.Model;
import dev.shardopt.v1.TrainingMode;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Everything {@link ShardoptCluster#createModel(ModelOptions)} needs, as an immutable value:
 * {@code ModelOptions.named("mlp").pipeline(adam(1e-3)).trainers(2).async(4).tensors(...)}.
 * Defaults: one trainer, SYNC.
 */
public final class ModelOptions {
  /** What a model id may be: the API's {@code [a-z0-9][a-z0-9-_.]{0,62}}. */
  public static final Pattern MODEL_ID = Pattern.compile("[a-z0-9][a-z0-9\\-_.]{0,62}");

  private final String id;
  private final Pipeline pipeline;
  private final int trainers;
  private final TrainingMode mode;
  private final int staleness;
  private final List<TensorDef> tensors;
  private final int replicas;

  private ModelOptions(String id, Pipeline pipeline, int trainers, TrainingMode mode, int staleness,
      List<TensorDef> tensors, int replicas) {
    this.replicas = replicas;
    this.id = id;
    this.pipeline = pipeline;
    this.trainers = trainers;
    this.mode = mode;
    this.staleness = staleness;
    this.tensors = tensors;
  }

  /** Options for the model {@code id} ({@code [a-z0-9][a-z0-9-_.]{0,62}}). */
  public static ModelOptions named(String id) {
    checkId(id);
    return new ModelOptions(id, null, 1, TrainingMode.SYNC, 0, List.of(), 1);
  }

  static void checkId(String id) {
    if (id == null || !MODEL_ID.matcher(id).matches()) {
      throw new IllegalArgumentException(
          "model id '" + id + "' is not valid: it must match [a-z0-9][a-z0-9-_.]{0,62}, e.g. \"mlp\"");
    }
  }

  public ModelOptions pipeline(Pipeline p) {
    return new ModelOptions(id, Objects.requireNonNull(p, "pipeline"), trainers, mode, staleness,
        tensors, replicas);
  }

  /** K, the gradients per step (sync) or the trainers that push (async); at least 1. */
  public ModelOptions trainers(int k) {
    if (k < 1) {
      throw new IllegalArgumentException("trainers must be at least 1, got " + k);
    }
    return new ModelOptions(id, pipeline, k, mode, staleness, tensors, replicas);
  }

  /** Bulk-synchronous: a step applies once all trainers have pushed it. The default. */
  public ModelOptions sync() {
    return new ModelOptions(id, pipeline, trainers, TrainingMode.SYNC, 0, tensors, replicas);
  }

  /** Asynchronous without a staleness bound: each push applies when it arrives. */
  public ModelOptions async() {
    return async(0);
  }

  /**
   * Asynchronous with a staleness bound (SSP): a trainer more than {@code staleness} steps ahead of
   * the slowest waits; 0 means no bound.
   */
  public ModelOptions async(int staleness) {
    if (staleness < 0) {
      throw new IllegalArgumentException("staleness must be >= 0 (0: no bound), got " + staleness);
    }
    return new ModelOptions(id, pipeline, trainers, TrainingMode.ASYNC, staleness, tensors, replicas);
  }

  /** The model's tensors, in model order; replaces any given before. */
  public ModelOptions tensors(TensorDef... defs) {
    return tensors(Arrays.asList(Objects.requireNonNull(defs, "tensors")));
  }

  public ModelOptions tensors(List<TensorDef> defs) {
    List<TensorDef> copy = List.copyOf(defs);
    Set<String> names = new HashSet<>();
    for (TensorDef t : copy) {
      if (!names.add(t.name())) {
        throw new IllegalArgumentException(
            "model '" + id + "' has two tensors named '" + t.name() + "'; tensor names must be unique");
      }
    }
    return new ModelOptions(id, pipeline, trainers, mode, staleness, copy, replicas);
  }

  /**
   * Copies of every shard, each on a different worker (default 1): with 2 or more, training goes on
   * when a worker dies, on the copies of its shards; the cluster needs at least that many workers.
   */
  public ModelOptions replicas(int r) {
    if (r < 1 || r > 16) {
      throw new IllegalArgumentException("replicas must be in [1, 16], got " + r);
    }
    return new ModelOptions(id, pipeline, trainers, mode, staleness, tensors, r);
  }

  public int replicas() {
    return replicas;
  }

  public String id() {
    return id;
  }

  public Pipeline pipeline() {
    return pipeline;
  }

  public int trainers() {
    return trainers;
  }

  public TrainingMode mode() {
    return mode;
  }

  public int staleness() {
    return staleness;
  }

  public List<TensorDef> tensors() {
    return tensors;
  }

  /** The Model message of CreateModel; checks that the options are complete. */
  Model toProto() {
    if (pipeline == null) {
      throw new IllegalArgumentException("model '" + id + "' needs a pipeline, e.g. .pipeline(adam(1e-3))");
    }
    if (tensors.isEmpty()) {
      throw new IllegalArgumentException(
          "model '" + id + "' needs at least one tensor, e.g. .tensors(Tensors.of(\"w\", 10, 10))");
    }
    Model.Builder b = Model.newBuilder()
        .setPipeline(pipeline.toProto())
        .setTrainers(trainers)
        .setMode(mode)
        .setStaleness(staleness)
        .setReplicas(replicas);
    for (TensorDef t : tensors) {
      b.addTensors(t.toProto());
    }
    return b.build();
  }

  @Override
  public String toString() {
    return "ModelOptions{" + id + ", " + pipeline + ", trainers=" + trainers + ", " + mode
        + (mode == TrainingMode.ASYNC ? ", staleness=" + staleness : "") + (replicas > 1 ? ", replicas=" + replicas : "")
        + ", tensors=" + tensors + "}";
  }
}
