package dev.shardopt.client.nd4j;

import dev.shardopt.client.RemoteModel;
import dev.shardopt.v1.TensorSpec;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/** A model's tensor shapes by name, in model order. */
final class ModelShapes {
  private ModelShapes() {}

  static Map<String, long[]> of(RemoteModel model) {
    Map<String, long[]> shapes = new LinkedHashMap<>();
    for (TensorSpec t : model.tensors()) {
      shapes.put(t.getName(), t.getShapeList().stream().mapToLong(Long::longValue).toArray());
    }
    return Collections.unmodifiableMap(shapes);
  }
}
