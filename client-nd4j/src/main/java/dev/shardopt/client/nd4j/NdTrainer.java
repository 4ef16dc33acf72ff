package dev.shardopt.client.nd4j;

import dev.shardopt.client.PulledParameters;
import dev.shardopt.client.PushResult;
import dev.shardopt.client.Trainer;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A {@link Trainer} that takes and gives {@link INDArray}s: the gradient map of a push, the
 * parameters of a pull, or a pull into arrays the caller owns (a SameDiff graph's variables).
 * Every array has its model tensor's shape; the values travel as the client's float32 row-major
 * arrays (see {@link TensorArrays} for the copies and roundings). Thread-safe as the trainer is,
 * as long as callers do not share the arrays they pass in.
 */
public final class NdTrainer {
  private final Trainer trainer;
  private final Map<String, long[]> shapes;

  public NdTrainer(Trainer trainer) {
    this.trainer = Objects.requireNonNull(trainer, "trainer");
    this.shapes = ModelShapes.of(trainer.model());
  }

  /** The plain trainer underneath (float[] pushes and pulls, the model, the rank). */
  public Trainer trainer() {
    return trainer;
  }

  /** The step this trainer pushes next, and the version {@link #pull()} waits for. */
  public long nextStep() {
    return trainer.nextStep();
  }

  /** The model's tensor shapes by name, in model order (copies). */
  public Map<String, long[]> shapes() {
    Map<String, long[]> copy = new LinkedHashMap<>();
    shapes.forEach((name, shape) -> copy.put(name, shape.clone()));
    return copy;
  }

  /**
   * Pushes this trainer's gradient of {@code step}, as {@link Trainer#push} does: every tensor of
   * the model, each an array of the tensor's shape (any floating-point type, any layout).
   *
   * @throws IllegalArgumentException naming the tensor when an array is null, of another shape or
   *     not floating-point, or (from the client) when a tensor is missing or unknown; nothing is sent
   */
  public PushResult push(long step, Map<String, INDArray> gradient) {
    if (gradient == null) {
      throw new IllegalArgumentException("the gradient of model '" + trainer.model().id() + "' must not be null");
    }
    Map<String, float[]> floats = new LinkedHashMap<>();
    for (Map.Entry<String, INDArray> e : gradient.entrySet()) {
      String what = "the gradient of tensor '" + e.getKey() + "'";
      long[] shape = shapes.get(e.getKey());
      if (shape == null && e.getValue() == null) {
        throw new IllegalArgumentException("the gradient has tensor '" + e.getKey() + "' with no array, and model '"
            + trainer.model().id() + "' does not have that tensor; its tensors are " + shapes.keySet());
      }
      // An unknown tensor is converted as it is, and the client's check names it with the model's tensors.
      floats.put(e.getKey(), shape == null
          ? TensorArrays.toFloats(what, e.getValue())
          : TensorArrays.toFloats(what, e.getValue(), shape));
    }
    return trainer.push(step, floats);
  }

  /** The parameters the next step needs (version {@link #nextStep()}), as new FLOAT arrays. */
  public Map<String, INDArray> pull() {
    return pullParameters(trainer.nextStep()).tensors();
  }

  /** The parameters once the model has completed {@code minStep} steps, as new FLOAT arrays. */
  public NdParameters pullParameters(long minStep) {
    PulledParameters pulled = trainer.pullParameters(minStep);
    Map<String, INDArray> out = new LinkedHashMap<>();
    pulled.tensors().forEach((name, values) ->
        out.put(name, TensorArrays.fromFloats("tensor '" + name + "'", values, shapes.get(name))));
    return new NdParameters(pulled.step(), Collections.unmodifiableMap(out));
  }

  /**
   * Pulls version {@link #nextStep()} into {@code targets}, arrays the caller owns (some or all of
   * the model's tensors, by name); they keep their identity, data type and layout. Returns the
   * version's step.
   *
   * @throws IllegalArgumentException before anything is pulled when a target is of an unknown
   *     tensor, of another shape or not floating-point: no target is written then
   */
  public long pullInto(Map<String, INDArray> targets) {
    return pullInto(trainer.nextStep(), targets);
  }

  /** As {@link #pullInto(Map)}, the version once the model has completed {@code minStep} steps. */
  public long pullInto(long minStep, Map<String, INDArray> targets) {
    if (targets == null) {
      throw new IllegalArgumentException("the targets of a pull of model '" + trainer.model().id() + "' must not be null");
    }
    for (Map.Entry<String, INDArray> e : targets.entrySet()) {
      long[] shape = shapes.get(e.getKey());
      if (shape == null) {
        throw new IllegalArgumentException("the pull targets have tensor '" + e.getKey() + "', which model '"
            + trainer.model().id() + "' does not have; its tensors are " + shapes.keySet());
      }
      TensorArrays.checkTarget("the pull target of tensor '" + e.getKey() + "'", e.getValue(), shape);
    }
    PulledParameters pulled = trainer.pullParameters(minStep);
    for (Map.Entry<String, INDArray> e : targets.entrySet()) {
      // a pull has every tensor of the model (the client checks the coverage)
      TensorArrays.copyInto("tensor '" + e.getKey() + "'", pulled.get(e.getKey()), e.getValue(),
          shapes.get(e.getKey()));
    }
    return pulled.step();
  }

  @Override
  public String toString() {
    return "NdTrainer{" + trainer + "}";
  }
}
