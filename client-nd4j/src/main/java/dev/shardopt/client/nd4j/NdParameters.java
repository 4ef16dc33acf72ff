package dev.shardopt.client.nd4j;

import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The result of a pull as INDArrays: the version {@code step} (the steps the model had completed)
 * and one new FLOAT array per tensor, of the tensor's shape, in model order. The map is
 * unmodifiable; the arrays are the caller's.
 */
public record NdParameters(long step, Map<String, INDArray> tensors) {
  /** The array of tensor {@code name}, or null. */
  public INDArray get(String name) {
    return tensors.get(name);
  }
}
