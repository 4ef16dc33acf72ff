package dev.shardopt.worker.store;

import com.google.protobuf.ByteString;
import dev.shardopt.engine.ShardSpec;
import dev.shardopt.rpc.TensorBytes;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntFunction;

/**
 * This worker's shards in wire form at one version: encoded once per version and shared by every
 * pull of it, so a hundred trainers pulling one step cost one encoding.
 */
final class SnapshotCache {
  private final ModelShards shards;
  private ParameterSnapshot latest; // guarded by this
  private int latestChunkFloats; // guarded by this
  private int encodings; // guarded by this

  SnapshotCache(ModelShards shards) {
    this.shards = shards;
  }

  /**
   * The shards of {@code tensors} (all when empty) at the current version.
   *
   * @param chunkFloats elements per chunk
   */
  ParameterSnapshot snapshot(List<String> tensors, int chunkFloats) {
    return snapshot(tensors, List.of(), chunkFloats);
  }

  /** As {@link #snapshot(List, int)}, only the shards starting at {@code starts} (tensor index, offset) when not empty. */
  ParameterSnapshot snapshot(List<String> tensors, List<long[]> starts, int chunkFloats) {
    ParameterSnapshot all = shards.read((version, params) -> {
      synchronized (this) {
        if (latest == null || latest.step() != version || latestChunkFloats != chunkFloats) {
          latest = encode(version, params, chunkFloats);
          latestChunkFloats = chunkFloats;
          encodings++;
        }
        return latest;
      }
    });
    if (tensors.isEmpty() && starts.isEmpty()) {
      return all;
    }
    List<ShardSpec> picked = new ArrayList<>();
    List<List<ByteString>> chunks = new ArrayList<>();
    for (int i = 0; i < all.shards().size(); i++) {
      ShardSpec s = all.shards().get(i);
      boolean named = tensors.isEmpty() || tensors.contains(s.name());
      boolean started = starts.isEmpty() || starts.stream().anyMatch(st -> st[0] == s.tensorIndex() && st[1] == s.offset());
      if (named && started) {
        picked.add(all.shards().get(i));
        chunks.add(all.chunks().get(i));
      }
    }
    return new ParameterSnapshot(all.step(), picked, chunks);
  }

  /** How many times a snapshot was encoded. */
  synchronized int encodings() {
    return encodings;
  }

  private ParameterSnapshot encode(long version, IntFunction<float[]> params, int chunkFloats) {
    List<List<ByteString>> chunks = new ArrayList<>();
    for (int i = 0; i < shards.shards().size(); i++) {
      float[] p = params.apply(i);
      List<ByteString> c = new ArrayList<>();
      for (int from = 0; from < p.length; from += chunkFloats) {
        c.add(TensorBytes.encode(p, from, Math.min(chunkFloats, p.length - from)));
      }
      chunks.add(c);
    }
    return new ParameterSnapshot(version, shards.shards(), chunks);
  }
}
