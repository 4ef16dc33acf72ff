package dev.shardopt.client;

import dev.shardopt.dsl.Pipeline;
import dev.shardopt.engine.BlockStatistics;
import dev.shardopt.engine.StepDecider;
import dev.shardopt.engine.kernel.ReductionBlocks;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Client-side checks and statistics of a gradient before it is pushed. Plain functions. */
final class Gradients {
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
    ArraysMismatch m = ArraysMismatch.find(tensors, gradient).orElse(null);
    if (m instanceof ArraysMismatch.WrongLength w) {
      throw new IllegalArgumentException("the gradient of tensor " + w.tensor().describe() + " of model '" + model
          + "' has " + w.length() + " elements, expected " + w.tensor().elements());
    } else if (m instanceof ArraysMismatch.Unknown u) {
      throw new IllegalArgumentException("the gradient has tensor '" + u.name() + "', which model '" + model
          + "' does not have; its tensors are " + tensors.stream().map(TensorInfo::name).toList());
    } else if (m instanceof ArraysMismatch.Missing x) {
      TensorInfo first = x.tensors().get(0);
      throw new IllegalArgumentException("the gradient of model '" + model + "' lacks tensor"
          + (x.tensors().size() > 1 ? "s " : " ") + x.tensors().stream().map(TensorInfo::name).toList()
          + " (got none, expected " + first.elements() + " elements for '" + first.name()
          + "'); a push carries every tensor of the model, frozen ones included");
    }
  }

  /**
   * The ASYNC header's statistics: the sum of squares of {@code clamp(g, -clipValue, clipValue)}
   * over the tensors {@code pipeline} does not freeze, and whether any of their elements is NaN or
   * infinite.
   *
   * <p>The sum is the engine's own reduction ({@link ReductionBlocks}): per-block partial sums in
   * double, added in block order into the tensor's sum, the tensors' sums added in model order, as
   * {@code StepDecider} combines a SYNC step's statistics. So a trainer's norm is bitwise the one
   * the workers would compute together. A NaN element makes it NaN (the server then acts on
   * {@code non_finite} anyway).
   */
  static Stats stats(List<TensorInfo> tensors, Map<String, float[]> gradient, Pipeline pipeline) {
    float clipValue = (float) pipeline.clipValueLimit().orElse(Double.POSITIVE_INFINITY);
    List<BlockStatistics> blocks = new ArrayList<>();
    boolean nonFinite = false;
    for (int i = 0; i < tensors.size(); i++) {
      TensorInfo t = tensors.get(i);
      if (pipeline.settingsFor(t.name()).frozen()) {
        continue;
      }
      float[] g = gradient.get(t.name());
      nonFinite |= ReductionBlocks.firstNonFinite(g, 0, g.length) >= 0;
      blocks.add(new BlockStatistics(i, 0, ReductionBlocks.blockPartials(g, clipValue), -1));
    }
    return new Stats(StepDecider.sumOfSquares(blocks), nonFinite);
  }
}
