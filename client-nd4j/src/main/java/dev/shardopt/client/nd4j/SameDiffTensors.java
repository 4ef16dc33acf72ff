package dev.shardopt.client.nd4j;

import dev.shardopt.client.TensorDef;
import dev.shardopt.client.Tensors;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.VariableType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A SameDiff graph's trainable variables as a model's tensors: the variables of type VARIABLE with
 * a floating-point type (those {@code SameDiff.fit} trains), named as in the graph.
 */
public final class SameDiffTensors {
  private SameDiffTensors() {}

  /**
   * The tensors of a model that holds {@code sd}'s trainable variables, with their current values
   * as initial values (uploaded by {@code createModel}; float32, see {@link TensorArrays}).
   */
  public static List<TensorDef> of(SameDiff sd) {
    List<TensorDef> defs = new ArrayList<>();
    for (SDVariable v : trainable(sd)) {
      INDArray arr = v.getArr();
      if (arr == null) {
        throw new IllegalArgumentException("SameDiff variable '" + v.name() + "' has no array yet; give it initial values");
      }
      defs.add(Tensors.of(v.name(), TensorArrays.toFloats("SameDiff variable '" + v.name() + "'", arr), arr.shape()));
    }
    return defs;
  }

  /**
   * The arrays of {@code sd}'s trainable variables by model tensor name, in model order, after
   * checking that they are exactly the model's tensors ({@code shapes}), each of its shape. {@code
   * sd} is the graph {@code fit} runs, its gradient function: a trainable variable there that has
   * no gradient and is not the model's is left alone.
   *
   * @throws IllegalArgumentException naming the variable or tensor that does not match
   */
  static Map<String, INDArray> bind(SameDiff sd, String model, Map<String, long[]> shapes) {
    Map<String, SDVariable> byName = new LinkedHashMap<>();
    for (SDVariable v : trainable(sd)) {
      byName.put(v.name(), v);
    }
    // fit runs on the graph's gradient function, which adds VARIABLEs of its own without a gradient
    // ("grad", "one-var"): fit never changes those, so only a variable with a gradient must be the model's
    List<String> extra = byName.keySet().stream()
        .filter(n -> !shapes.containsKey(n) && byName.get(n).getGradient() != null).toList();
    if (!extra.isEmpty()) {
      throw new IllegalArgumentException("the SameDiff graph's trainable variable" + (extra.size() > 1 ? "s " : " ")
          + extra + " " + (extra.size() > 1 ? "are" : "is") + " not a tensor of model '" + model
          + "' (its tensors: " + shapes.keySet() + "); Shardopt would never update "
          + (extra.size() > 1 ? "them" : "it") + ": make it a constant or give the model the tensor");
    }
    List<String> missing = shapes.keySet().stream().filter(n -> !byName.containsKey(n)).toList();
    if (!missing.isEmpty()) {
      throw new IllegalArgumentException("model '" + model + "' has tensor" + (missing.size() > 1 ? "s " : " ")
          + missing + ", which the SameDiff graph has no trainable variable for (its trainable variables: "
          + new TreeSet<>(byName.keySet()) + "); a push carries every tensor of the model");
    }
    Map<String, INDArray> arrays = new LinkedHashMap<>();
    for (Map.Entry<String, long[]> e : shapes.entrySet()) {
      INDArray arr = byName.get(e.getKey()).getArr();
      TensorArrays.checkTarget("SameDiff variable '" + e.getKey() + "'", arr, e.getValue());
      arrays.put(e.getKey(), arr);
    }
    return Collections.unmodifiableMap(arrays);
  }

  private static List<SDVariable> trainable(SameDiff sd) {
    return sd.variables().stream()
        .filter(v -> v.getVariableType() == VariableType.VARIABLE && v.dataType().isFPType())
        .toList();
  }
}
