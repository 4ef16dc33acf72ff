package dev.shardopt.client;

import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** The check of the caller's arrays a pull assembles into (pullParametersInto). A plain function. */
final class PullTargets {
  private PullTargets() {}

  /**
   * Checks that {@code into} has exactly the model's tensors, each array of the tensor's element count.
   *
   * @throws IllegalArgumentException naming the tensor, the array's length and the expected one
   */
  static void validate(String model, List<TensorInfo> tensors, Map<String, float[]> into) {
    if (into == null) {
      throw new IllegalArgumentException("the arrays to pull model '" + model + "' into must not be null");
    }
    Set<String> names = new HashSet<>();
    for (TensorInfo t : tensors) {
      names.add(t.name());
      float[] a = into.get(t.name());
      if (a == null) {
        throw new IllegalArgumentException("no array to pull tensor " + t.describe() + " of model '" + model
            + "' into (got none, expected " + t.elements() + " elements); pass one array per tensor of the model");
      }
      if (a.length != t.elements()) {
        throw new IllegalArgumentException("the array to pull tensor " + t.describe() + " of model '" + model
            + "' into has " + a.length + " elements, expected " + t.elements());
      }
    }
    for (Map.Entry<String, float[]> e : into.entrySet()) {
      if (!names.contains(e.getKey())) {
        throw new IllegalArgumentException("the arrays to pull into name tensor '" + e.getKey() + "' ("
            + (e.getValue() == null ? "null" : e.getValue().length + " elements") + "), which model '" + model
            + "' does not have; its tensors are " + tensors.stream().map(TensorInfo::name).toList());
      }
    }
  }
}
