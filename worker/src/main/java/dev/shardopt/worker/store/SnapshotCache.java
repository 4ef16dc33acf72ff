package dev.shardopt.worker.store;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import dev.shardopt.engine.ShardSpec;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.IntFunction;

/**
 * This worker's shards in wire form at one version, shared by every pull of it, so a hundred
 * trainers pulling one step cost one copy. A version's chunks are copied out of the parameters
 * lazily, each when a pull first takes it, so a pull sends its first chunk while the others are
 * still in the parameters; before anything changes the parameters, {@link ModelShards} has the
 * cache copy out every chunk still owed ({@link #copyOutstanding}): copy-on-write per version, so a
 * snapshot holds its version's values however many steps run while it is sent. Each snapshot
 * handed out holds a reference to its version until {@link ParameterSnapshot#release}; a version
 * that is neither the latest nor referenced gives its buffers to a small pool, and the next version
 * is copied into them (fresh allocations cost page faults on every pull on a VM; issue 11 §2).
 *
 * <p>Lock order: the shards' monitor before this one.
 */
final class SnapshotCache {
  /** Versions' buffer sets kept for reuse beyond the latest and those pulls still read. */
  static final int POOLED_SETS = 2;

  private final ModelShards shards;
  private final ChunkBufferPool pool;
  private Encoded latest; // guarded by this
  private int encodings; // guarded by this
  private long chunksCopied; // guarded by this
  private int outstanding; // snapshots handed out and not released; guarded by this
  private final Set<Encoded> owing = new HashSet<>(); // versions with chunks not yet copied; guarded by this

  SnapshotCache(ModelShards shards) {
    this(shards, new ChunkBufferPool(POOLED_SETS));
  }

  SnapshotCache(ModelShards shards, ChunkBufferPool pool) {
    this.shards = shards;
    this.pool = pool;
    shards.beforeChange(this::copyOutstanding);
  }

  /** One version's wire form, its chunks copied as they are first taken, and the pulls still reading it. */
  private static final class Encoded {
    final long version;
    final int chunkFloats;
    final List<ShardSpec> specs;
    final List<List<ByteString>> chunks; // views of buffers, filled as copied
    final byte[][] buffers;
    /**
     * Where each shard's values are read from until every chunk is copied (then dropped): live
     * arrays on the cpu backend, a download of them on the others.
     */
    float[][] sources; // guarded by the cache
    final int[] firstBuffer; // per shard: the index of its first chunk's buffer
    final boolean[] copied; // per buffer; guarded by the cache
    int owed; // buffers not yet copied; guarded by the cache
    int refs; // guarded by the cache

    Encoded(long version, int chunkFloats, List<ShardSpec> specs, List<List<ByteString>> chunks, byte[][] buffers,
        float[][] sources, int[] firstBuffer) {
      this.version = version;
      this.chunkFloats = chunkFloats;
      this.specs = specs;
      this.chunks = chunks;
      this.buffers = buffers;
      this.sources = sources;
      this.firstBuffer = firstBuffer;
      this.copied = new boolean[buffers.length];
      this.owed = buffers.length;
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
          recycleIfUnused(old); // before taking buffers, so the new version can have its buffers
          latest = wireForm(version, params, chunkFloats);
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
    if (tensors.isEmpty() && starts.isEmpty()) {
      return new ParameterSnapshot(enc.version, enc.specs, enc.chunks, (shard, chunk) -> fill(enc, shard, chunk), release);
    }
    List<ShardSpec> picked = new ArrayList<>();
    List<List<ByteString>> chunks = new ArrayList<>();
    List<Integer> index = new ArrayList<>();
    for (int i = 0; i < enc.specs.size(); i++) {
      ShardSpec s = enc.specs.get(i);
      boolean named = tensors.isEmpty() || tensors.contains(s.name());
      boolean started = starts.isEmpty() || starts.stream().anyMatch(st -> st[0] == s.tensorIndex() && st[1] == s.offset());
      if (named && started) {
        picked.add(s);
        chunks.add(enc.chunks.get(i));
        index.add(i);
      }
    }
    return new ParameterSnapshot(enc.version, picked, chunks, (shard, chunk) -> fill(enc, index.get(shard), chunk), release);
  }

  /** How many versions were put in wire form. */
  synchronized int encodings() {
    return encodings;
  }

  /** Chunks copied out of the parameters so far, over every version. */
  synchronized long chunksCopied() {
    return chunksCopied;
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

  /** A version no pull reads and that is not the latest gives its buffers to the pool, copied or not. */
  private void recycleIfUnused(Encoded enc) {
    if (enc != null && enc.refs == 0) {
      owing.remove(enc); // its buffers may hold another version's chunks from now on
      pool.give(enc.buffers);
    }
  }

  /**
   * Copies every chunk still owed, of every version that pulls may still read, out of the
   * parameters: {@link ModelShards} calls this under its monitor before it changes them.
   */
  synchronized void copyOutstanding() {
    if (owing.isEmpty()) {
      return; // the usual case: every pull of the version took all its chunks
    }
    for (Encoded enc : List.copyOf(owing)) {
      if (enc.refs == 0) { // no pull reads it (so it is the latest): drop it rather than copy it
        if (enc == latest) {
          latest = null;
        }
        recycleIfUnused(enc);
        continue;
      }
      for (int b = 0; b < enc.buffers.length; b++) {
        copy(enc, b);
      }
    }
  }

  /** Makes chunk {@code chunk} of shard {@code shard} of {@code enc} hold its values. */
  private void fill(Encoded enc, int shard, int chunk) {
    int b = enc.firstBuffer[shard] + chunk;
    synchronized (this) {
      if (enc.copied[b]) {
        return;
      }
    }
    // Under the shards' monitor no step runs; one that ran since the snapshot copied everything first.
    shards.read((version, params) -> {
      synchronized (this) {
        if (!enc.copied[b]) {
          if (version != enc.version) {
            throw new IllegalStateException("chunk " + b + " of version " + enc.version + " was not copied before version "
                + version + " changed the parameters");
          }
          copy(enc, b);
        }
      }
      return null;
    });
  }

  /** Copies buffer {@code b} of {@code enc} from its shard's values (once; the caller holds this monitor). */
  private void copy(Encoded enc, int b) {
    if (enc.copied[b]) {
      return;
    }
    int shard = 0;
    while (shard + 1 < enc.firstBuffer.length && enc.firstBuffer[shard + 1] <= b) {
      shard++;
    }
    float[] p = enc.sources[shard];
    int from = (b - enc.firstBuffer[shard]) * enc.chunkFloats;
    ByteBuffer.wrap(enc.buffers[b]).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer()
        .put(p, from, Math.min(enc.chunkFloats, p.length - from));
    enc.copied[b] = true;
    chunksCopied++;
    if (--enc.owed == 0) {
      owing.remove(enc);
      enc.sources = null;
    }
  }

  /** Version {@code version} in wire form, no chunk copied yet (the caller holds both monitors). */
  private Encoded wireForm(long version, IntFunction<float[]> params, int chunkFloats) {
    List<ShardSpec> specs = shards.shards();
    float[][] sources = new float[specs.size()][];
    List<Integer> lengths = new ArrayList<>();
    for (int i = 0; i < sources.length; i++) {
      sources[i] = params.apply(i);
      lengths.add(sources[i].length);
    }
    byte[][] buffers = pool.take(ChunkBufferPool.chunkBytes(lengths, chunkFloats));
    List<List<ByteString>> chunks = new ArrayList<>();
    int[] firstBuffer = new int[sources.length];
    int b = 0;
    for (int i = 0; i < sources.length; i++) {
      firstBuffer[i] = b;
      List<ByteString> c = new ArrayList<>();
      for (int from = 0; from < sources[i].length; from += chunkFloats) {
        c.add(UnsafeByteOperations.unsafeWrap(buffers[b++])); // a view: the pool reuses it only once no pull reads it
      }
      chunks.add(c);
    }
    Encoded enc = new Encoded(version, chunkFloats, specs, chunks, buffers, sources, firstBuffer);
    if (buffers.length > 0) {
      owing.add(enc);
    }
    return enc;
  }
}
