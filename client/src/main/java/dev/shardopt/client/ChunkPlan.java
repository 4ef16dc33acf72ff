package dev.shardopt.client;

import dev.shardopt.rpc.TensorBytes;
import dev.shardopt.rpc.wire.FloatChunk;
import dev.shardopt.v1.Shard;
import dev.shardopt.v1.TensorChunk;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Set;

/**
 * Splitting tensor data into the chunks that go to each worker: plain functions over a
 * {@link ShardLayout}. Chunks never cross a shard boundary, hold at most {@code chunkElements}
 * elements each, and are encoded lazily by {@link #chunks}, so that a push holds one chunk per
 * worker in memory beyond what gRPC's flow control lets through.
 */
final class ChunkPlan {
  private ChunkPlan() {}

  /** Elements {@code [offset, offset + length)} of tensor {@code tensor}. */
  record Span(String tensor, long offset, int length) {}

  /** The spans covering {@code shards} (those of tensors in {@code only}, or all when null), in order. */
  static List<Span> spans(List<Shard> shards, int chunkElements, Set<String> only) {
    if (chunkElements <= 0) {
      throw new IllegalArgumentException("chunkElements must be positive, got " + chunkElements);
    }
    List<Span> out = new ArrayList<>();
    for (Shard s : shards) {
      if (only != null && !only.contains(s.getTensor())) {
        continue;
      }
      long end = s.getOffset() + s.getLength();
      for (long at = s.getOffset(); at < end; at += chunkElements) {
        out.add(new Span(s.getTensor(), at, (int) Math.min(chunkElements, end - at)));
      }
    }
    return out;
  }

  /** The chunk of {@code span}, its data taken from {@code values}. */
  static TensorChunk encode(Span span, Map<String, float[]> values) {
    float[] v = values.get(span.tensor());
    return TensorChunk.newBuilder()
        .setTensor(span.tensor())
        .setOffset(span.offset())
        .setData(TensorBytes.encode(v, Math.toIntExact(span.offset()), span.length()))
        .build();
  }

  /** The chunk of {@code span} as floats still in {@code values}: written to the wire without an encode. */
  static FloatChunk floats(Span span, Map<String, float[]> values) {
    return FloatChunk.of(span.tensor(), span.offset(), values.get(span.tensor()), Math.toIntExact(span.offset()),
        span.length());
  }

  /** The chunks of {@code spans} as floats, made when asked for (the send path: {@link #floats}). */
  static Iterator<FloatChunk> floatChunks(List<Span> spans, Map<String, float[]> values) {
    return spans.stream().map(s -> floats(s, values)).iterator();
  }

  /** The chunks of {@code spans}, each encoded when it is asked for. */
  static Iterator<TensorChunk> chunks(List<Span> spans, Map<String, float[]> values) {
    Iterator<Span> it = spans.iterator();
    return new Iterator<>() {
      @Override
      public boolean hasNext() {
        return it.hasNext();
      }

      @Override
      public TensorChunk next() {
        if (!it.hasNext()) {
          throw new NoSuchElementException();
        }
        return encode(it.next(), values);
      }
    };
  }

  /**
   * Every worker's chunks of {@code values} (which must hold every tensor of the layout), by worker
   * address in layout order, encoded at once. For tests and small tensors; a push uses the lazy
   * {@link #chunks}.
   */
  static Map<String, List<TensorChunk>> split(ShardLayout layout, Map<String, float[]> values,
      int chunkElements) {
    Map<String, List<TensorChunk>> out = new LinkedHashMap<>();
    for (ShardLayout.WorkerShards w : layout.workers()) {
      List<TensorChunk> chunks = new ArrayList<>();
      chunks(spans(w.shards(), chunkElements, null), values).forEachRemaining(chunks::add);
      out.put(w.address(), chunks);
    }
    return out;
  }
}
