package dev.shardopt.client;

import java.util.Map;

/**
 * The result of a pull: the version {@code step} (the number of steps the model had completed) and
 * one float[] per tensor, in model order: fresh ones, or the caller's own from a pull into
 * arrays ({@link RemoteModel#pullParametersInto}). The map is unmodifiable; the arrays are the
 * caller's.
 */
public record PulledParameters(long step, Map<String, float[]> tensors) {
  /** The values of tensor {@code name}, or null. */
  public float[] get(String name) {
    return tensors.get(name);
  }
}
