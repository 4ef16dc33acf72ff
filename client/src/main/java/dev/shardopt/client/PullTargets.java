package dev.shardopt.client;

import java.util.List;
import java.util.Map;

/** The check of the caller's arrays a pull assembles into (pullParametersInto). A plain function. */
final class PullTargets {
  private PullTargets() {}

  /**
   * Checks that {@code into} has exactly the model's tensors, each array of the tensor's element count
   * ({@link ArraysMismatch}, as a gradient is checked).
   *
   * @throws IllegalArgumentException naming the tensor, the array's length and the expected one
   */
  static void validate(String model, List<TensorInfo> tensors, Map<String, float[]> into) {
    if (into == null) {
      throw new IllegalArgumentException("the arrays to pull model '" + model + "' into must not be null");
    }
    ArraysMismatch m = ArraysMismatch.find(tensors, into).orElse(null);
    if (m instanceof ArraysMismatch.WrongLength w) {
      throw new IllegalArgumentException("the array to pull tensor " + w.tensor().describe() + " of model '" + model
          + "' into has " + w.length() + " elements, expected " + w.tensor().elements());
    } else if (m instanceof ArraysMismatch.Unknown u) {
      throw new IllegalArgumentException("the arrays to pull into name tensor '" + u.name() + "' ("
          + (u.array() == null ? "null" : u.array().length + " elements") + "), which model '" + model
          + "' does not have; its tensors are " + tensors.stream().map(TensorInfo::name).toList());
    } else if (m instanceof ArraysMismatch.Missing x) {
      TensorInfo first = x.tensors().get(0);
      throw new IllegalArgumentException("no array to pull tensor " + first.describe() + " of model '" + model
          + "' into (got none, expected " + first.elements() + " elements); pass one array per tensor of the model");
    }
  }
}
