package dev.shardopt.client;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * How a map of arrays by tensor name (a gradient to push, the arrays a pull fills) differs from a
 * model's tensors, found in one order for every caller: an array of the wrong length first (in the
 * model's order), then a name the model does not have, then the tensors without an array. The
 * callers put it in their own words.
 */
sealed interface ArraysMismatch {
  /** {@code tensor}'s array has {@code length} elements, not the tensor's element count. */
  record WrongLength(TensorInfo tensor, int length) implements ArraysMismatch {}

  /** {@code name} is no tensor of the model; {@code array} may be null. */
  record Unknown(String name, float[] array) implements ArraysMismatch {}

  /** These tensors (at least one, in the model's order) have no array. */
  record Missing(List<TensorInfo> tensors) implements ArraysMismatch {}

  /** The first mismatch of {@code arrays} (not null) against {@code tensors}, or empty when they match. */
  static Optional<ArraysMismatch> find(List<TensorInfo> tensors, Map<String, float[]> arrays) {
    Set<String> names = new HashSet<>();
    List<TensorInfo> missing = new ArrayList<>();
    for (TensorInfo t : tensors) {
      names.add(t.name());
      float[] a = arrays.get(t.name());
      if (a == null) {
        missing.add(t);
      } else if (a.length != t.elements()) {
        return Optional.of(new WrongLength(t, a.length));
      }
    }
    for (Map.Entry<String, float[]> e : arrays.entrySet()) {
      if (!names.contains(e.getKey())) {
        return Optional.of(new Unknown(e.getKey(), e.getValue()));
      }
    }
    return missing.isEmpty() ? Optional.empty() : Optional.of(new Missing(List.copyOf(missing)));
  }
}
