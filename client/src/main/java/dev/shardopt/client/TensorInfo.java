package dev.shardopt.client;

import dev.shardopt.v1.TensorSpec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/** A model tensor as the client needs it: name, position in the model, shape and element count. */
record TensorInfo(String name, int index, long[] shape, int elements) {

  /** The tensors of a model, in model order; refuses duplicates and tensors too large for a float[]. */
  static List<TensorInfo> of(List<TensorSpec> specs) {
    List<TensorInfo> out = new ArrayList<>(specs.size());
    Set<String> names = new HashSet<>();
    for (int i = 0; i < specs.size(); i++) {
      TensorSpec s = specs.get(i);
      if (!names.add(s.getName())) {
        throw new IllegalArgumentException("the model has two tensors named '" + s.getName() + "'");
      }
      long[] shape = s.getShapeList().stream().mapToLong(Long::longValue).toArray();
      out.add(new TensorInfo(s.getName(), i, shape, TensorDef.elementCount(s.getName(), shape)));
    }
    return List.copyOf(out);
  }

  String describe() {
    return "'" + name + "' (shape " + Arrays.toString(shape) + ", " + elements + " elements)";
  }
}
