package dev.shardopt.rpc.wire;

import java.util.Objects;

/**
 * A {@code TensorChunk} (service.proto) whose {@code data} is still floats: elements
 * {@code [from, from + count)} of {@code values}, to be written to the wire as little-endian float32
 * by {@link FloatChunkStream} without an intermediate {@code byte[]}. The array is read when the
 * chunk is sent, so it must not change until then.
 *
 * @param model "" unless the message names the model (a WriteParameters stream's first chunk)
 * @param offset the first element's index within the flattened tensor
 * @param slot "" for parameters, or the optimizer state slot (re-replication)
 */
public record FloatChunk(String model, String tensor, long offset, float[] values, int from, int count, String slot) {
  public FloatChunk {
    Objects.requireNonNull(model, "model");
    Objects.requireNonNull(tensor, "tensor");
    Objects.requireNonNull(slot, "slot");
    Objects.checkFromIndexSize(from, count, values.length);
    if (count > Integer.MAX_VALUE / Float.BYTES) {
      throw new IllegalArgumentException("a chunk holds at most " + Integer.MAX_VALUE / Float.BYTES
          + " floats, got " + count);
    }
  }

  /** Elements {@code [from, from + count)} of {@code values} as chunk data of {@code tensor} at {@code offset}. */
  public static FloatChunk of(String tensor, long offset, float[] values, int from, int count) {
    return new FloatChunk("", tensor, offset, values, from, count, "");
  }

  /** This chunk naming {@code model}. */
  public FloatChunk withModel(String model) {
    return new FloatChunk(model, tensor, offset, values, from, count, slot);
  }
}
