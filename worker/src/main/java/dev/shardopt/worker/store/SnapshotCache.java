package dev.shardopt.worker.store;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import dev.shardopt.engine.ShardSpec;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.IntFunction;

/**
 * This worker's shards in wire form at one version: encoded once per version and shared by every
 * pull of it, so a hundred trainers pulling one step cost one encoding. Each snapshot handed out
 * holds a reference to its version until {@link ParameterSnapshot#release}; a version that is
 * neither the latest nor referenced gives its buffers to a small pool, and the next version is
 * encoded into them (fresh allocations cost page faults on every pull on a VM; issue 11 §2).
 */
final class SnapshotCache {
  /** Versions' buffer sets kept for reuse beyond the latest and those pulls still read. */
  static final int POOLED_SETS = 2;

  private final ModelShards shards;
  private final ChunkBufferPool pool;
  private Encoded latest; // guarded by this
  private int encodings; // guarded by this
  private int outstanding; // snapshots handed out and not released; guarded by this

  SnapshotCache(ModelShards shards) {
    this(shards, new ChunkBufferPool(POOLED_SETS));
  }

  SnapshotCache(ModelShards shards, ChunkBufferPool pool) {
    this.shards = shards;
    this.pool = pool;
  }

  /** One version's encoding and the pulls still reading it. */
  private static final class Encoded {
    final long version;
    final int chunkFloats;
    final ParameterSnapshot all; // its release is a no-op; handed-out snapshots carry their own
    final byte[][] buffers;
    int refs; // guarded by the cache

    Encoded(long version, int chunkFloats, ParameterSnapshot all, byte[][] buffers) {
      this.version = version;
      this.chunkFloats = chunkFloats;
      this.all = all;
      this.buffers = buffers;
    }
  }

  /**
   * The shards of {@code tensors} (all when empty) at the current version; the caller releases it
   * once its chunks are sent.
   *
   * @param chunkFloats elements per chunk
   */
  ParameterSnapshot snapshot(List<String> tensors, int chunkFloats) {
    return snapshot(tensors, List.of(), chunkFloats);
  }

  /** As {@link #snapshot(List, int)}, only the shards starting at {@code starts} (tensor index, offset) when not empty. */
  ParameterSnapshot snapshot(List<String> tensors, List<long[]> starts, int chunkFloats) {
    Encoded enc = shards.read((version, params) -> {
      synchronized (this) {
        if (latest == null || latest.version != version || latest.chunkFloats != chunkFloats) {
          Encoded old = latest;
          latest = null;
          recycleIfUnused(old); // before encoding, so the new version can take its buffers
          latest = encode(version, params, chunkFloats);
          encodings++;
        }
        latest.refs++;
        outstanding++;
        return latest;
      }
    });
    AtomicBoolean released = new AtomicBoolean();
    Runnable release = () -> {
      if (released.compareAndSet(false, true)) {
        release(enc);
      }
    };
    ParameterSnapshot all = enc.all;
    if (tensors.isEmpty() && starts.isEmpty()) {
      return new ParameterSnapshot(all.step(), all.shards(), all.chunks(), release);
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
    return new ParameterSnapshot(all.step(), picked, chunks, release);
  }

  /** How many times a snapshot was encoded. */
  synchronized int encodings() {
    return encodings;
  }

  /** Snapshots handed out and not yet released, over every version. */
  synchronized int referenced() {
    return outstanding;
  }

  /** Buffer sets in the pool now. */
  synchronized int pooled() {
    return pool.pooled();
  }

  /** Buffers allocated so far (reused ones not counted). */
  synchronized long allocated() {
    return pool.allocated();
  }

  private synchronized void release(Encoded enc) {
    enc.refs--;
    outstanding--;
    if (enc != latest) {
      recycleIfUnused(enc);
    }
  }

  /** A version no pull reads and that is not the latest gives its buffers to the pool. */
  private void recycleIfUnused(Encoded enc) {
    if (enc != null && enc.refs == 0) {
      pool.give(enc.buffers);
    }
  }

  private Encoded encode(long version, IntFunction<float[]> params, int chunkFloats) {
    List<float[]> arrays = new ArrayList<>();
    List<Integer> lengths = new ArrayList<>();
    for (int i = 0; i < shards.shards().size(); i++) {
      float[] p = params.apply(i);
      arrays.add(p);
      lengths.add(p.length);
    }
    byte[][] buffers = pool.take(ChunkBufferPool.chunkBytes(lengths, chunkFloats));
    List<List<ByteString>> chunks = new ArrayList<>();
    int b = 0;
    for (float[] p : arrays) {
      List<ByteString> c = new ArrayList<>();
      for (int from = 0; from < p.length; from += chunkFloats) {
        byte[] buf = buffers[b++];
        ByteBuffer.wrap(buf).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().put(p, from, Math.min(chunkFloats, p.length - from));
        c.add(UnsafeByteOperations.unsafeWrap(buf)); // a view: the pool reuses buf only once no pull reads it
      }
      chunks.add(c);
    }
    return new Encoded(version, chunkFloats, new ParameterSnapshot(version, shards.shards(), chunks), buffers);
  }
}
