package dev.shardopt.worker.store;

import com.google.protobuf.ByteString;
import dev.shardopt.engine.ShardSpec;
import java.util.List;

/**
 * Shards at one version in wire form: per shard, its chunks of little-endian float32. A chunk may
 * be copied out of the parameters only when it is first asked for ({@link SnapshotCache}), so a
 * pull can send its first chunk before the last is copied; every chunk still holds this version's
 * values, however many steps ran since. The chunks may be views of buffers that the worker reuses
 * for a later version once every pull of this one called {@link #release}: read them only before
 * that.
 */
public final class ParameterSnapshot {
  /** Makes a chunk's bytes hold its values; returns once they do. */
  @FunctionalInterface
  interface ChunkFill {
    void fill(int shard, int chunk);
  }

  private final long step;
  private final List<ShardSpec> shards;
  private final List<List<ByteString>> chunks;
  private final ChunkFill fill;
  private final Runnable onRelease;

  /**
   * @param step the version: steps completed
   * @param onRelease called once the chunks are no longer read (idempotent; a snapshot never released
   *     only keeps its buffers from being reused)
   */
  ParameterSnapshot(long step, List<ShardSpec> shards, List<List<ByteString>> chunks, ChunkFill fill, Runnable onRelease) {
    this.step = step;
    this.shards = shards;
    this.chunks = chunks;
    this.fill = fill;
    this.onRelease = onRelease;
  }

  /** A snapshot whose chunks already hold their values and whose buffers belong to no pool. */
  public ParameterSnapshot(long step, List<ShardSpec> shards, List<List<ByteString>> chunks) {
    this(step, shards, chunks, (shard, chunk) -> { }, () -> { });
  }

  /** The version: steps completed. */
  public long step() {
    return step;
  }

  public List<ShardSpec> shards() {
    return shards;
  }

  /** How many chunks shard {@code shard} (an index into {@link #shards}) is sent in. */
  public int chunkCount(int shard) {
    return chunks.get(shard).size();
  }

  /** Chunk {@code chunk} of shard {@code shard}, holding its values (copied out now if it was not yet). */
  public ByteString chunk(int shard, int chunk) {
    fill.fill(shard, chunk);
    return chunks.get(shard).get(chunk);
  }

  /** Says that nothing reads the chunks any more: their buffers may be reused for a later version. */
  public void release() {
    onRelease.run();
  }
}
