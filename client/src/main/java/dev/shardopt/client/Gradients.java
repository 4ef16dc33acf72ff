package dev.shardopt.client;

import dev.shardopt.dsl.Pipeline;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Client-side checks and statistics of a gradient before it is pushed. Plain functions. */
final class Gradients {
  /**
   * Elements per reduction block: the same blocks as the worker's {@code ReductionBlocks.BLOCK},
   * so that an ASYNC trainer's norm is bitwise the one a SYNC step would compute.
   */
  static final int BLOCK = 8192;

  private Gradients() {}

  /** The ASYNC push header's statistics. */
  record Stats(double normSquared, boolean nonFinite) {}

  /**
   * Checks that {@code gradient} has exactly the model's tensors, each with the right number of
   * elements.
   *
   * @throws IllegalArgumentException naming the tensor, what it got and what was expected
   */
  static void validate(String model, List<TensorInfo> tensors, Map<String, float[]> gradient) {
    if (gradient == null) {
      throw new IllegalArgumentException("the gradient of model '" + model + "' must not be null");
    }
    Set<String> names = new HashSet<>();
    List<String> missing = new ArrayList<>();
    for (TensorInfo t : tensors) {
      names.add(t.name());
      float[] g = gradient.get(t.name());
      if (g == null) {
        missing.add(t.name());
        continue;
      }
      if (g.length != t.elements()) {
        throw new IllegalArgumentException(
            "the gradient of tensor " + t.describe() + " of model '" + model + "' has " + g.length
                + " elements, expected " + t.elements());
      }
    }
    for (String name : gradient.keySet()) {
      if (!names.contains(name)) {
        throw new IllegalArgumentException(
            "the gradient has tensor '" + name + "', which model '" + model
                + "' does not have; its tensors are " + tensors.stream().map(TensorInfo::name).toList());
      }
    }
    if (!missing.isEmpty()) {
      TensorInfo first = tensors.stream().filter(t -> t.name().equals(missing.get(0))).findFirst().get();
      throw new IllegalArgumentException(
          "the gradient of model '" + model + "' lacks tensor" + (missing.size() > 1 ? "s " : " ")
              + missing + " (got none, expected " + first.elements() + " elements for '"
              + first.name() + "'); a push carries every tensor of the model, frozen ones included");
    }
  }

  /**
   * The ASYNC header's statistics: the sum of squares of {@code clamp(g, -clipValue, clipValue)}
   * over the non-frozen tensors, and whether any of their elements is NaN or infinite.
   *
   * <p>The sum is formed exactly as a SYNC step forms it on the workers: in double, each tensor's
   * elements clamped in float32, summed sequentially inside fixed {@value #BLOCK}-element blocks,
   * the block sums added in block order into the tensor's sum, and the tensors' sums added in model
   * order. A NaN element makes it NaN (the server then acts on {@code non_finite} anyway).
   */
  static Stats stats(List<TensorInfo> tensors, Map<String, float[]> gradient, Pipeline pipeline) {
    float clip = pipeline.clipValueLimit().isPresent()
        ? (float) pipeline.clipValueLimit().getAsDouble()
        : Float.POSITIVE_INFINITY;
    float nclip = -clip;
    double total = 0;
    boolean nonFinite = false;
    for (TensorInfo t : tensors) {
      if (pipeline.settingsFor(t.name()).frozen()) {
        continue;
      }
      float[] g = gradient.get(t.name());
      double tensorSum = 0;
      for (int from = 0; from < g.length; from += BLOCK) {
        int to = Math.min(from + BLOCK, g.length);
        double block = 0;
        for (int i = from; i < to; i++) {
          float x = g[i];
          if (!(Math.abs(x) <= Float.MAX_VALUE)) {
            nonFinite = true;
          }
          double c = Math.min(Math.max(x, nclip), clip);
          block += c * c;
        }
        tensorSum += block;
      }
      total += tensorSum;
    }
    return new Stats(total, nonFinite);
  }
}
