package dev.shardopt.engine;

import dev.shardopt.dsl.Pipeline;
import dev.shardopt.engine.device.CpuBackend;
import dev.shardopt.engine.device.DeviceBackend;
import dev.shardopt.engine.kernel.ParallelApply;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One model's parameters and optimizer state in one process: a {@link ShardGroup} holding every
 * tensor whole, with the global decision taken locally by {@link StepDecider}. The cluster runs the
 * same stages with the shards spread over workers, so both give bitwise identical parameters.
 *
 * <p>A push is one gradient per trainer; see {@link ShardGroup} for its stages. A refused push
 * changes nothing. Not thread-safe: callers serialize pushes. {@link #close} frees the device
 * arrays (on the cpu backend the garbage collector would too).
 */
public final class LocalOptimizer implements AutoCloseable {
  private final ShardGroup group;
  private final List<String> names = new ArrayList<>();

  /** On the cpu backend: the Java kernels on {@code parallel}'s threads. */
  public LocalOptimizer(
      Pipeline pipeline, Map<TensorShape, float[]> initial, int trainers, ParallelApply parallel) {
    this(pipeline, initial, trainers, new CpuBackend(parallel), parallel);
  }

  /**
   * @param initial the tensors in model order, each with its initial values (copied)
   * @param trainers K, the number of gradients per push
   * @param device where the tensors live (not owned)
   * @param host checks the heap gradients
   * @throws IllegalArgumentException on a length that does not match the shape, a duplicate name,
   *     or a parameter that two lrScale globs match
   * @throws dev.shardopt.engine.device.DeviceMemoryException when the device has not the memory
   */
  public LocalOptimizer(
      Pipeline pipeline, Map<TensorShape, float[]> initial, int trainers, DeviceBackend device,
      ParallelApply host) {
    if (initial.isEmpty()) {
      throw new IllegalArgumentException("a model needs at least one tensor");
    }
    List<ShardSpec> shards = new ArrayList<>();
    List<float[]> values = new ArrayList<>();
    for (Map.Entry<TensorShape, float[]> e : initial.entrySet()) {
      if (names.contains(e.getKey().name())) {
        throw new IllegalArgumentException("tensor '" + e.getKey().name() + "' is given twice");
      }
      shards.add(ShardSpec.whole(names.size(), e.getKey()));
      names.add(e.getKey().name());
      values.add(e.getValue());
    }
    this.group = new ShardGroup(pipeline, shards, values, trainers, device, host);
  }

  public Pipeline pipeline() {
    return group.pipeline();
  }

  /** Replaces the pipeline from the next push on (same rule and state layout). */
  public void setPipeline(Pipeline next) {
    group.setPipeline(next);
  }

  /** t: the number of updates applied. */
  public long updatesApplied() {
    return group.updatesApplied();
  }

  /** Steps skipped by skipNonFinite. */
  public long stepsSkipped() {
    return group.stepsSkipped();
  }

  public List<TensorShape> tensors() {
    return group.shards().stream().map(ShardSpec::tensor).toList();
  }

  /** A copy of the current parameters of {@code name}. */
  public float[] parameter(String name) {
    return group.parameters(index(name));
  }

  /** Copies the current parameters of {@code name} into {@code dst[dstFrom ...]}. */
  public void readParameter(String name, float[] dst, int dstFrom) {
    int i = index(name);
    group.readParameters(i, 0, dst, dstFrom, group.shard(i).length());
  }

  /** Copies of all current parameters, in model order. */
  public Map<String, float[]> parameters() {
    Map<String, float[]> out = new LinkedHashMap<>();
    for (int i = 0; i < names.size(); i++) {
      out.put(names.get(i), group.parameters(i));
    }
    return Collections.unmodifiableMap(out);
  }

  /** Optimizer state slot names and copies of their values for {@code name}. */
  public Map<String, float[]> state(String name) {
    return group.state(index(name));
  }

  /**
   * Applies one push: {@code gradients.get(r)} is trainer r's gradient by tensor name. Frozen
   * tensors may be left out.
   *
   * @throws InvalidGradientException if a gradient is missing, unknown, of the wrong length, or
   *     not finite without skipNonFinite; nothing has changed then
   */
  public StepResult push(List<Map<String, float[]>> gradients) {
    if (gradients.size() != group.trainers()) {
      throw new InvalidGradientException(
          "a push needs one gradient per trainer: expected " + group.trainers() + ", got " + gradients.size());
    }
    List<float[][]> byShard = new ArrayList<>();
    for (int r = 0; r < gradients.size(); r++) {
      Map<String, float[]> g = gradients.get(r);
      for (String name : g.keySet()) {
        if (!names.contains(name)) {
          throw new InvalidGradientException((group.trainers() == 1 ? "" : "trainer " + r + ": ")
              + "unknown tensor '" + name + "'; the model has " + String.join(", ", names));
        }
      }
      float[][] arrays = new float[names.size()][];
      for (int i = 0; i < names.size(); i++) {
        arrays[i] = g.get(names.get(i));
      }
      group.validate(r, arrays);
      byShard.add(arrays);
    }
    ShardGroup.PreparedStep step = group.prepare(byShard);
    if (step == null) {
      return new StepResult(StepResult.Outcome.ACCUMULATED, group.updatesApplied(), Double.NaN, Double.NaN, 1f);
    }
    UpdateDecision d = StepDecider.decide(group.pipeline(), group.updatesApplied(), group.statistics(step), names);
    if (!d.applies()) {
      if (!group.pipeline().skipsNonFinite()) {
        // Only reachable when finite pushes overflow in the window sum; the window stays as it was.
        throw new InvalidGradientException(d.nonFinite() + " after accumulating "
            + group.pipeline().accumulateSteps() + " pushes; nothing was applied (add .skipNonFinite() to skip such steps)");
      }
      group.skip(step);
      return new StepResult(StepResult.Outcome.SKIPPED_NON_FINITE, group.updatesApplied(), Double.NaN, Double.NaN, 1f);
    }
    group.apply(step, d);
    return new StepResult(StepResult.Outcome.APPLIED, group.updatesApplied(), d.learningRate(), d.gradientNorm(), d.clipScale());
  }

  /** Frees the tensors' device arrays; the optimizer cannot be used afterwards. */
  @Override
  public void close() {
    group.close();
  }

  private int index(String name) {
    int i = names.indexOf(name);
    if (i < 0) {
      throw new IllegalArgumentException(
          "unknown tensor '" + name + "'; the model has " + String.join(", ", names));
    }
    return i;
  }

  @Override
  public String toString() {
    return "LocalOptimizer[" + group.pipeline() + ", " + names + ", t=" + group.updatesApplied() + "]";
  }
}
