package dev.shardopt.checkpoint;

/**
 * A range of floats that {@link ShardWriter} reads chunk by chunk rather than from one heap array:
 * a shard's array on a device, for one, which is downloaded a chunk at a time into a small buffer.
 */
@FunctionalInterface
public interface FloatSource {
  /** Copies elements {@code [from, from + n)} of the range into {@code dst[0, n)}. */
  void read(long from, float[] dst, int n);
}
