package dev.shardopt.worker.store;

import dev.shardopt.checkpoint.CheckpointException;
import dev.shardopt.checkpoint.FloatSource;
import dev.shardopt.engine.BlockStatistics;
import dev.shardopt.engine.InvalidGradientException;
import dev.shardopt.engine.ShardGroup;
import dev.shardopt.engine.ShardSpec;
import dev.shardopt.engine.StepDecider;
import dev.shardopt.engine.UpdateDecision;
import dev.shardopt.rpc.ApiException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;
import java.util.function.IntFunction;

/**
 * One model's shard data on this worker behind one monitor (this object): the {@link ShardGroup},
 * the pipeline generation it runs under, and the count of completed steps. The counters a
 * heartbeat reads are published after each step, so reading them never waits for a kernel pass.
 *
 * <p>Lock order: this monitor before a protocol's own lock, never the other way round.
 *
 * <p>Every method that changes the arrays first runs the {@link #beforeChange} hook under this
 * monitor: pull snapshots that read the live arrays lazily copy out what they still owe.
 *
 * <p>{@link #close} frees the group's device arrays once no step runs; later calls that need them
 * get NOT_FOUND.
 */
final class ModelShards implements AutoCloseable {

  /** A step's gradient ready for the decision, and its statistics; no gradient when it only filled the window. */
  record Prepared(ShardGroup.PreparedStep step, List<BlockStatistics> statistics, long generation) {
    boolean decides() {
      return step != null;
    }
  }

  private final String model;
  private final List<String> tensorNames;
  private final ShardGroup group; // guarded by this
  private boolean closed; // guarded by this
  private long generation; // guarded by this: the generation the group's pipeline is
  private volatile long version;
  private volatile long updatesApplied;
  private volatile long stepsSkipped;
  private Runnable beforeChange = () -> { }; // guarded by this

  /** @param tensorNames every tensor of the model, by index (for messages) */
  ModelShards(String model, List<String> tensorNames, ShardGroup group) {
    this(model, tensorNames, group, 0, 0);
  }

  /**
   * Shards that continue from a checkpoint: {@code version} steps complete, the group running
   * pipeline {@code generation}, its counters already restored.
   */
  ModelShards(String model, List<String> tensorNames, ShardGroup group, long version, long generation) {
    this.model = model;
    this.tensorNames = List.copyOf(tensorNames);
    this.group = group;
    this.version = version;
    this.generation = generation;
    this.updatesApplied = group.updatesApplied();
    this.stepsSkipped = group.stepsSkipped();
  }

  /** Runs {@code hook} under this monitor before anything changes the arrays (one hook: the model's snapshot cache). */
  synchronized void beforeChange(Runnable hook) {
    beforeChange = hook;
  }

  /** The pipeline's accumulate k, which no generation may change. */
  synchronized int accumulate() {
    return group.pipeline().accumulateSteps();
  }

  /**
   * Refuses a checkpoint at boundary {@code step} once the decision of its window's last step
   * {@code step + k - 1} was applied: the parameters have moved past the boundary.
   *
   * @throws ApiException FAILED_PRECONDITION naming the earliest step still possible
   */
  void checkNotPassed(long step, int k) {
    long v = version;
    if (v >= step + k) {
      throw ApiException.failedPrecondition(model + " has passed step " + step + " on this worker (completed " + v
          + " steps, so the update of the window " + step + ".." + (step + k - 1) + " is applied); choose a step >= "
          + (v / k) * k);
    }
  }

  /** The updates applied and the steps skipped at a snapshot, which a checkpoint holds. */
  record ShardCounters(long updatesApplied, long stepsSkipped) {}

  /** Where {@link #snapshot} sends each shard's parameters and state slots. */
  @FunctionalInterface
  interface SnapshotSink {
    /**
     * Takes the {@code length} values of {@code shard}'s {@code slot} ({@code ""} for the
     * parameters), which {@code values} reads from the live array: read them before returning,
     * the next step changes them.
     */
    void accept(ShardSpec shard, String slot, long length, FloatSource values) throws CheckpointException;
  }

  /**
   * Hands the parameters and every state slot (a never-created state as the kernel's initial one)
   * at update boundary {@code step}, which the model must have reached and not passed, to {@code
   * sink}, shard by shard, skipping empty shards. Holds this monitor throughout, so no step changes
   * them meanwhile: what the sink reads is one consistent state.
   *
   * @return the counters at that state
   */
  synchronized ShardCounters snapshot(long step, int k, SnapshotSink sink) throws CheckpointException {
    checkOpen();
    if (version < step) {
      throw new IllegalStateException(model + " snapshot of step " + step + " taken at version " + version);
    }
    checkNotPassed(step, k);
    List<String> slots = group.stateSlots();
    for (int i = 0; i < group.size(); i++) {
      ShardSpec s = group.shard(i);
      if (s.length() == 0) {
        continue;
      }
      for (int j = ShardGroup.PARAMETERS; j < slots.size(); j++) {
        int shard = i;
        int array = j;
        sink.accept(s, j == ShardGroup.PARAMETERS ? "" : slots.get(j), s.length(),
            (from, dst, n) -> group.read(shard, array, (int) from, dst, 0, n));
      }
    }
    return new ShardCounters(group.updatesApplied(), group.stepsSkipped());
  }

  /** This worker's shards; their layout never changes. */
  List<ShardSpec> shards() {
    return group.shards();
  }

  /** Completed steps (SYNC) or pushes applied (ASYNC). */
  long version() {
    return version;
  }

  long updatesApplied() {
    return updatesApplied;
  }

  long stepsSkipped() {
    return stepsSkipped;
  }

  /**
   * Checks one trainer's gradient against the pipeline in force at its step. Reads only the
   * shards' layout, so it needs no monitor.
   *
   * @throws ApiException INVALID_ARGUMENT naming the tensor (and the trainer, when there are several)
   */
  void validate(PipelineTimeline.Generation at, int trainer, int trainers, float[][] gradient) {
    validate(at, trainer, trainers, gradient, null);
  }

  /** As {@link #validate(PipelineTimeline.Generation, int, int, float[][])}, each shard's first NaN/Inf already known when not null. */
  void validate(PipelineTimeline.Generation at, int trainer, int trainers, float[][] gradient, int[] firstNonFinite) {
    try {
      group.validate(at.pipeline(), trainers == 1 ? 0 : trainer, gradient, firstNonFinite);
    } catch (InvalidGradientException e) {
      String msg = e.getMessage();
      if (trainers > 1 && !msg.startsWith("trainer ")) {
        msg = "trainer " + trainer + ": " + msg;
      }
      throw ApiException.invalidArgument(msg);
    }
  }

  /** Stages one and two of a step under generation {@code at}. */
  synchronized Prepared prepare(PipelineTimeline.Generation at, List<float[][]> gradients) {
    checkOpen();
    beforeChange.run();
    switchTo(at);
    ShardGroup.PreparedStep step = group.prepare(gradients);
    return new Prepared(step, step == null ? List.of() : group.statistics(step), at.generation());
  }

  /** Stage three with the barrier's decision (none when the step only filled the window); the step is complete. */
  synchronized void finish(Prepared p, UpdateDecision decision) {
    checkOpen();
    beforeChange.run();
    if (p.decides()) {
      if (generation != p.generation()) {
        throw new IllegalStateException("the shards of " + model + " run generation " + generation
            + ", not " + p.generation() + " that the step was prepared under");
      }
      group.apply(p.step(), decision);
    }
    completeStep();
  }

  /** An ASYNC push: all three stages, the decision from the trainer's own statistics. */
  synchronized void applyAsync(PipelineTimeline.Generation at, float[][] gradient, double normSquared, boolean nonFinite) {
    checkOpen();
    beforeChange.run();
    switchTo(at);
    // No reductions: the decision comes from the trainer's own statistics.
    ShardGroup.PreparedStep step = group.prepare(List.<float[][]>of(gradient), false);
    if (step != null) {
      group.apply(step, StepDecider.decideAsync(at.pipeline(), group.updatesApplied(), normSquared, nonFinite));
    }
    completeStep();
  }

  /** Overwrites part of shard {@code i}'s array {@code array} (a copy being written: {@link ShardGroup#write}). */
  synchronized void writeArray(int i, int array, int from, float[] values) {
    checkOpen();
    beforeChange.run();
    group.write(i, array, from, values, 0, values.length);
  }

  /** The rule's state slots, in the kernel's order. */
  synchronized List<String> stateSlots() {
    return group.stateSlots();
  }

  /** Overwrites part of shard {@code i}'s parameters (initial upload). */
  synchronized void writeParameters(int i, int from, float[] values) {
    checkOpen();
    beforeChange.run();
    group.writeParameters(i, from, values);
  }

  /**
   * {@code read(version, shard i -> its parameters on the heap)} with no step running. The arrays
   * are {@link ShardGroup#parametersOnHost}'s: on the cpu backend live (read them inside
   * {@code read}, never write them), elsewhere downloaded when asked for.
   */
  synchronized <T> T read(BiFunction<Long, IntFunction<float[]>, T> read) {
    checkOpen();
    return read.apply(version, group::parametersOnHost);
  }

  /** Frees the shards' device arrays, after the step that may be running; idempotent. */
  @Override
  public synchronized void close() {
    if (!closed) {
      beforeChange.run();
    }
    closed = true;
    group.close();
  }

  private void checkOpen() {
    if (closed) {
      throw ApiException.notFound(model + " was deleted");
    }
  }

  /** The shard holding {@code [offset, offset + count)} of {@code tensor}. */
  int shardFor(String tensor, long offset, int count) {
    List<ShardSpec> all = group.shards();
    for (int i = 0; i < all.size(); i++) {
      ShardSpec s = all.get(i);
      // offset is a uint64 on the wire (negative here past 2^63); offset + count could overflow
      if (s.name().equals(tensor) && offset >= s.offset() && count <= (long) s.offset() + s.length() - offset) {
        return i;
      }
    }
    boolean known = all.stream().anyMatch(s -> s.name().equals(tensor));
    if (!known) {
      throw ApiException.notFound(
          tensorNames.contains(tensor)
              ? "tensor '" + tensor + "' of " + model + " has no shard on this worker; send it to the worker the shard map names"
              : "tensor '" + tensor + "' not found in " + model + " (tensors: " + String.join(", ", tensorNames) + ")");
    }
    List<String> ranges = new ArrayList<>();
    for (ShardSpec s : all) {
      if (s.name().equals(tensor)) {
        ranges.add("[" + s.offset() + ", " + (s.offset() + s.length()) + ")");
      }
    }
    throw ApiException.outOfRange("elements [" + Long.toUnsignedString(offset) + ", " + Long.toUnsignedString(offset + count) + ") of '" + tensor
        + "' are not inside one shard on this worker (shards: " + String.join(", ", ranges) + ")");
  }

  /** Refuses names that are no tensor of the model. */
  void checkTensors(List<String> tensors) {
    for (String t : tensors) {
      if (!tensorNames.contains(t)) {
        throw ApiException.notFound("tensor '" + t + "' not found in " + model + " (tensors: " + String.join(", ", tensorNames) + ")");
      }
    }
  }

  private void switchTo(PipelineTimeline.Generation at) {
    if (at.generation() != generation) {
      group.setPipeline(at.pipeline());
      generation = at.generation();
    }
  }

  private void completeStep() {
    version++;
    updatesApplied = group.updatesApplied();
    stepsSkipped = group.stepsSkipped();
  }
}
