package dev.shardopt.worker.store;

import com.google.protobuf.ByteString;
import dev.shardopt.engine.ShardSpec;
import java.util.List;

/**
 * Shards at one version, already in wire form: per shard, its chunks of little-endian float32.
 *
 * @param step the version: steps completed
 */
public record ParameterSnapshot(long step, List<ShardSpec> shards, List<List<ByteString>> chunks) {}
