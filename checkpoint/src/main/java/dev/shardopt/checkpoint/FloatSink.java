package dev.shardopt.checkpoint;

/**
 * Where {@link CheckpointReader} puts a range of floats chunk by chunk rather than into one heap
 * array: a shard's array on a device, for one, which is uploaded a chunk at a time.
 */
@FunctionalInterface
public interface FloatSink {
  /** Takes {@code src[0, n)} as elements {@code [from, from + n)} of the range. */
  void write(long from, float[] src, int n);
}
