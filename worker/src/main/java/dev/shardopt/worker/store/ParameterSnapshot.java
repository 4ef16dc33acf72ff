package dev.shardopt.worker.store;

import com.google.protobuf.ByteString;
import dev.shardopt.engine.ShardSpec;
import java.util.List;

/**
 * Shards at one version, already in wire form: per shard, its chunks of little-endian float32.
 * The chunks may be views of buffers that the worker reuses for a later version once every pull of
 * this one called {@link #release}: read them only before that.
 *
 * @param step the version: steps completed
 * @param onRelease called once the chunks are no longer read (idempotent; a snapshot never released
 *     only keeps its buffers from being reused)
 */
public record ParameterSnapshot(long step, List<ShardSpec> shards, List<List<ByteString>> chunks, Runnable onRelease) {
  /** A snapshot whose buffers belong to no pool. */
  public ParameterSnapshot(long step, List<ShardSpec> shards, List<List<ByteString>> chunks) {
    this(step, shards, chunks, () -> { });
  }

  /** Says that nothing reads the chunks any more: their buffers may be reused for a later version. */
  public void release() {
    onRelease.run();
  }
}
