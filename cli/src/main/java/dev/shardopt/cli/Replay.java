package dev.shardopt.cli;

import dev.shardopt.cli.io.Tensor;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.worker.engine.InvalidGradientException;
import dev.shardopt.worker.engine.LocalOptimizer;
import dev.shardopt.worker.engine.TensorSpec;
import dev.shardopt.worker.kernel.ParallelApply;
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
    if (trainers < 1) {
      throw new UserErrorException("--trainers must be >= 1, got " + trainers);
    }
    for (String name : grads.keySet()) {
      if (!init.containsKey(name)) {
        throw new UserErrorException(
            "grads has a tensor '" + name + "' that init does not have (init has " + String.join(", ", init.keySet()) + ")");
      }
    }
    Map<TensorSpec, float[]> model = new LinkedHashMap<>();
    long steps = -1;
    int lead = trainers == 1 ? 1 : 2;
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
      model.put(new TensorSpec(name, t.shape()), t.data());
    }

    final long pushes = steps;
    LocalOptimizer optimizer;
    try {
      optimizer = new LocalOptimizer(pipeline, model, trainers, parallel);
    } catch (IllegalArgumentException e) {
      throw new UserErrorException(e.getMessage(), e);
    }
    Map<String, float[]> out = new LinkedHashMap<>();
    init.forEach((name, t) -> out.put(name, new float[Math.toIntExact(pushes * t.data().length)]));
    for (int step = 0; step < pushes; step++) {
      List<Map<String, float[]>> push = new ArrayList<>(trainers);
      for (int r = 0; r < trainers; r++) {
        Map<String, float[]> one = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : init.entrySet()) {
          int n = e.getValue().data().length;
          float[] all = grads.get(e.getKey()).data();
          int from = (step * trainers + r) * n;
          one.put(e.getKey(), Arrays.copyOfRange(all, from, from + n));
        }
        push.add(one);
      }
      try {
        optimizer.push(push);
      } catch (InvalidGradientException e) {
        throw new UserErrorException("push " + step + ": " + e.getMessage(), e);
      }
      for (String name : init.keySet()) {
        float[] p = optimizer.parameter(name);
        System.arraycopy(p, 0, out.get(name), step * p.length, p.length);
      }
    }
    Map<String, Tensor> trajectory = new LinkedHashMap<>();
    init.forEach((name, t) -> trajectory.put(name, new Tensor(prepend(pushes, t.shape()), out.get(name))));
    return new Result(trajectory, optimizer.updatesApplied(), optimizer.stepsSkipped());
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
