package dev.shardopt.cli;

import dev.shardopt.cli.io.Tensor;
import dev.shardopt.client.CheckpointInfo;
import dev.shardopt.client.ModelOptions;
import dev.shardopt.client.RemoteModel;
import dev.shardopt.client.ShardoptCluster;
import dev.shardopt.client.ShardoptException;
import dev.shardopt.client.StepMetric;
import dev.shardopt.client.TensorDef;
import dev.shardopt.client.Tensors;
import dev.shardopt.client.Trainer;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.engine.InvalidGradientException;
import dev.shardopt.engine.LocalOptimizer;
import dev.shardopt.engine.TensorShape;
import dev.shardopt.engine.device.CpuBackend;
import dev.shardopt.engine.device.DeviceBackend;
import dev.shardopt.engine.device.DeviceMemoryException;
import dev.shardopt.engine.kernel.ParallelApply;
import dev.shardopt.v1.Model;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs a gradient sequence through a pipeline and records the parameters after every push: the
 * conformance path behind {@code shardopt replay}, shared with its tests.
 *
 * <p>{@code grads} holds, per tensor, shape {@code [T, *shape]}, or {@code [T, K, *shape]} with K
 * trainers; the result holds {@code [T, *shape]} per tensor, in the order of {@code init}.
 */
public final class Replay {
  private Replay() {}

  /** The trajectory, and what the run did. */
  public record Result(Map<String, Tensor> trajectory, long updatesApplied, long stepsSkipped) {}

  /**
   * @throws UserErrorException on missing or extra keys, mismatched shapes, or a non-finite
   *     gradient without skipNonFinite (naming the push)
   */
  public static Result run(
      Pipeline pipeline, Map<String, Tensor> init, Map<String, Tensor> grads, int trainers,
      ParallelApply parallel) {
    return run(pipeline, init, grads, trainers, new CpuBackend(parallel), parallel);
  }

  /**
   * As {@link #run(Pipeline, Map, Map, int, ParallelApply)}, the tensors on {@code device} (not
   * closed here; the arrays are freed at the end).
   */
  public static Result run(
      Pipeline pipeline, Map<String, Tensor> init, Map<String, Tensor> grads, int trainers,
      DeviceBackend device, ParallelApply parallel) {
    final long pushes = checkShapes(init, grads, trainers);
    Map<TensorShape, float[]> model = new LinkedHashMap<>();
    init.forEach((name, t) -> model.put(new TensorShape(name, t.shape()), t.data()));
    LocalOptimizer optimizer;
    try {
      optimizer = new LocalOptimizer(pipeline, model, trainers, device, parallel);
    } catch (IllegalArgumentException | DeviceMemoryException e) {
      throw new UserErrorException(e.getMessage(), e);
    }
    try (optimizer) {
      return replay(optimizer, init, grads, trainers, pushes);
    }
  }

  private static Result replay(
      LocalOptimizer optimizer, Map<String, Tensor> init, Map<String, Tensor> grads, int trainers, long pushes) {
    Map<String, float[]> out = new LinkedHashMap<>();
    init.forEach((name, t) -> out.put(name, new float[Math.toIntExact(pushes * t.data().length)]));
    for (int step = 0; step < pushes; step++) {
      List<Map<String, float[]>> push = new ArrayList<>(trainers);
      for (int r = 0; r < trainers; r++) {
        push.add(slice(init, grads, trainers, step, r));
      }
      try {
        optimizer.push(push);
      } catch (InvalidGradientException e) {
        throw new UserErrorException("push " + step + ": " + e.getMessage(), e);
      }
      for (Map.Entry<String, Tensor> t : init.entrySet()) {
        int n = t.getValue().data().length;
        optimizer.readParameter(t.getKey(), out.get(t.getKey()), step * n);
      }
    }
    Map<String, Tensor> trajectory = new LinkedHashMap<>();
    init.forEach((name, t) -> trajectory.put(name, new Tensor(prepend(pushes, t.shape()), out.get(name))));
    return new Result(trajectory, optimizer.updatesApplied(), optimizer.stepsSkipped());
  }


  /**
   * The same replay through a cluster: the model is created with {@code init} uploaded to its
   * workers, each push is sent by K trainers, and the parameters are pulled after every push.
   * With a sync pipeline the trajectory is bitwise that of {@link #run}.
   */
  public static Result runOnCluster(
      ShardoptCluster cluster, String modelId, Pipeline pipeline, Map<String, Tensor> init,
      Map<String, Tensor> grads, int trainers) {
    return runOnCluster(cluster, modelId, pipeline, init, grads, trainers, null).result();
  }

  /** Where and at which step boundary (after {@code step} pushes) a cluster replay writes a checkpoint. */
  public record CheckpointAt(Path directory, long step) {}

  /**
   * A replay through a cluster from push {@code firstPush} on: {@code result.trajectory()} holds
   * the rows of pushes {@code firstPush..T-1}; {@code checkpoint} is the one written, or null.
   */
  public record ClusterReplay(Result result, long firstPush, CheckpointInfo checkpoint) {}

  /** As {@link #runOnCluster(ShardoptCluster, String, Pipeline, Map, Map, int)}, writing a checkpoint at {@code checkpointAt} if not null. */
  public static ClusterReplay runOnCluster(
      ShardoptCluster cluster, String modelId, Pipeline pipeline, Map<String, Tensor> init,
      Map<String, Tensor> grads, int trainers, CheckpointAt checkpointAt) {
    long pushes = checkShapes(init, grads, trainers);
    List<TensorDef> defs = new ArrayList<>();
    init.forEach((name, t) -> defs.add(Tensors.of(name, t.data(), t.shape())));
    RemoteModel model;
    try {
      model = cluster.createModel(ModelOptions.named(modelId).pipeline(pipeline).trainers(trainers).tensors(defs));
    } catch (ShardoptException e) {
      throw new UserErrorException("creating the model failed: " + e.getMessage(), e);
    }
    try {
      return replay(model, init, grads, trainers, pushes, checkpointAt);
    } finally {
      model.delete();
    }
  }

  /**
   * Restores the model from {@code checkpoint} (a checkpoint, or a directory whose latest complete
   * checkpoint is used) and replays pushes S..T-1 of {@code grads}, S being the checkpoint's step.
   * {@code pipeline}, {@code init}'s names and shapes, and {@code trainers} must be the
   * checkpoint's. The counts are the model's, those before S included.
   */
  public static ClusterReplay resumeOnCluster(
      ShardoptCluster cluster, String modelId, Path checkpoint, Pipeline pipeline,
      Map<String, Tensor> init, Map<String, Tensor> grads, int trainers, CheckpointAt checkpointAt) {
    long pushes = checkShapes(init, grads, trainers);
    RemoteModel model;
    try {
      model = cluster.restoreModel(modelId, checkpoint);
    } catch (ShardoptException e) {
      throw new UserErrorException("restoring from " + checkpoint + " failed: " + e.getMessage(), e);
    }
    try {
      checkRestored(model, checkpoint, pipeline, init, trainers, pushes);
      return replay(model, init, grads, trainers, pushes, checkpointAt);
    } finally {
      model.delete();
    }
  }

  /** The restored model must be the one these files and options describe. */
  private static void checkRestored(RemoteModel model, Path checkpoint, Pipeline pipeline,
      Map<String, Tensor> init, int trainers, long pushes) {
    String at = "the checkpoint at " + checkpoint + " (step " + model.startStep() + ")";
    if (model.trainers() != trainers) {
      throw new UserErrorException(at + " has " + model.trainers() + " trainers, but --trainers is " + trainers);
    }
    List<String> want = new ArrayList<>();
    init.forEach((name, t) -> want.add(name + Arrays.toString(t.shape())));
    List<String> got = model.tensors().stream()
        .map(t -> t.getName() + Arrays.toString(t.getShapeList().stream().mapToLong(Long::longValue).toArray()))
        .toList();
    if (!got.equals(want)) {
      throw new UserErrorException(at + " has tensors " + got + ", but --params has " + want);
    }
    String inForce = model.pipelineAt(model.startStep()).toString();
    if (!inForce.equals(pipeline.toString())) {
      throw new UserErrorException(at + " has pipeline " + inForce + ", but --pipeline is " + pipeline);
    }
    if (model.startStep() > pushes) {
      throw new UserErrorException(at + " is past the end of --grads, which has " + pushes + " pushes");
    }
  }

  /** Pushes and pulls from the model's start step to {@code pushes}, with the checkpoint if any. */
  private static ClusterReplay replay(RemoteModel model, Map<String, Tensor> init,
      Map<String, Tensor> grads, int trainers, long pushes, CheckpointAt checkpointAt) {
    long first = model.startStep();
    if (checkpointAt != null) {
      checkCheckpointStep(model, checkpointAt.step(), first, pushes);
    }
    List<Trainer> ranks = new ArrayList<>();
    for (int r = 0; r < trainers; r++) {
      ranks.add(model.trainer(r, trainers));
    }
    long rows = pushes - first;
    Map<String, float[]> out = new LinkedHashMap<>();
    init.forEach((name, t) -> out.put(name, new float[Math.toIntExact(rows * t.data().length)]));
    CheckpointInfo written = null;
    for (long step = first; step <= pushes; step++) {
      if (checkpointAt != null && step == checkpointAt.step()) {
        written = checkpoint(model, checkpointAt);
      }
      if (step == pushes) {
        break;
      }
      for (int r = 0; r < trainers; r++) {
        try {
          ranks.get(r).push(step, slice(init, grads, trainers, Math.toIntExact(step), r));
        } catch (ShardoptException e) {
          throw new UserErrorException("push " + step + ": " + (e.serverMessage() == null ? e.getMessage() : e.serverMessage()), e);
        }
      }
      Map<String, float[]> params = model.pull(step + 1);
      for (String name : init.keySet()) {
        float[] p = params.get(name);
        System.arraycopy(p, 0, out.get(name), Math.toIntExact((step - first) * p.length), p.length);
      }
    }
    Map<String, Tensor> trajectory = new LinkedHashMap<>();
    init.forEach((name, t) -> trajectory.put(name, new Tensor(prepend(rows, t.shape()), out.get(name))));
    long updates;
    long skipped;
    if (first == 0) {
      List<StepMetric> metrics = model.metrics();
      skipped = metrics.stream().filter(StepMetric::skipped).count();
      updates = metrics.size() - skipped;
    } else {
      Model m = model.describe(); // the restored counters include the steps before the checkpoint
      updates = m.getUpdatesApplied();
      skipped = m.getStepsSkipped();
    }
    return new ClusterReplay(new Result(trajectory, updates, skipped), first, written);
  }

  private static void checkCheckpointStep(RemoteModel model, long step, long first, long pushes) {
    if (step < first || step > pushes) {
      throw new UserErrorException("--checkpoint-at must be in [" + first + ", " + pushes + "] (the step boundaries "
          + (first == 0 ? "" : "from the resumed step ") + "through the last push), got " + step);
    }
    int k = model.pipelineAt(step).accumulateSteps();
    if (step % k != 0) {
      throw new UserErrorException("--checkpoint-at " + step + " is not a step boundary of accumulate(" + k
          + "): choose a multiple of " + k + ", e.g. " + (step / k * k) + " or " + (step / k * k + k));
    }
  }

  private static CheckpointInfo checkpoint(RemoteModel model, CheckpointAt at) {
    try {
      return model.checkpoint(at.directory(), at.step());
    } catch (ShardoptException e) {
      throw new UserErrorException("checkpoint at push " + at.step() + " into " + at.directory() + ": " + e.getMessage(), e);
    }
  }

  /** Checks names and shapes; returns T, the number of pushes. */
  static long checkShapes(Map<String, Tensor> init, Map<String, Tensor> grads, int trainers) {
    if (trainers < 1) {
      throw new UserErrorException("--trainers must be >= 1, got " + trainers);
    }
    for (String name : grads.keySet()) {
      if (!init.containsKey(name)) {
        throw new UserErrorException(
            "grads has a tensor '" + name + "' that init does not have (init has " + String.join(", ", init.keySet()) + ")");
      }
    }
    long steps = -1;
    for (Map.Entry<String, Tensor> e : init.entrySet()) {
      String name = e.getKey();
      Tensor t = e.getValue();
      Tensor g = grads.get(name);
      if (g == null) {
        throw new UserErrorException(
            "grads has no tensor '" + name + "' (init has " + String.join(", ", init.keySet()) + ")");
      }
      long[] expected = trainers == 1 ? t.shape() : prepend(trainers, t.shape());
      long[] got = g.shape();
      if (got.length != expected.length + 1
          || !Arrays.equals(Arrays.copyOfRange(got, 1, got.length), expected)) {
        throw new UserErrorException(
            "grads '" + name + "' has shape " + Arrays.toString(got) + ", expected [T, "
                + (trainers == 1 ? "" : "K=" + trainers + ", ") + join(t.shape()) + "] for init shape "
                + Arrays.toString(t.shape()));
      }
      if (steps >= 0 && got[0] != steps) {
        throw new UserErrorException(
            "grads '" + name + "' has " + got[0] + " steps, but other tensors have " + steps
                + "; every tensor needs the same T");
      }
      steps = got[0];
    }
    return Math.max(steps, 0);
  }

  /** Trainer r's gradient at push {@code step}. */
  private static Map<String, float[]> slice(
      Map<String, Tensor> init, Map<String, Tensor> grads, int trainers, int step, int r) {
    Map<String, float[]> one = new LinkedHashMap<>();
    for (Map.Entry<String, Tensor> e : init.entrySet()) {
      int n = e.getValue().data().length;
      float[] all = grads.get(e.getKey()).data();
      int from = (step * trainers + r) * n;
      one.put(e.getKey(), Arrays.copyOfRange(all, from, from + n));
    }
    return one;
  }

  private static long[] prepend(long first, long[] rest) {
    long[] s = new long[rest.length + 1];
    s[0] = first;
    System.arraycopy(rest, 0, s, 1, rest.length);
    return s;
  }

  private static String join(long[] dims) {
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < dims.length; i++) {
      s.append(i == 0 ? "" : ", ").append(dims[i]);
    }
    return s.toString();
  }
}
