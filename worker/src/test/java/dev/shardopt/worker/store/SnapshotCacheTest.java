package dev.shardopt.worker.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.dsl.Pipeline;
import dev.shardopt.engine.ShardGroup;
import dev.shardopt.engine.ShardSpec;
import dev.shardopt.engine.TensorShape;
import dev.shardopt.engine.device.CpuBackend;
import dev.shardopt.engine.kernel.ParallelApply;
import dev.shardopt.rpc.TensorBytes;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class SnapshotCacheTest {
  private final Pipeline p = Pipeline.parse("sgd(1.0)");
  private final ExecutorService exec = Executors.newSingleThreadExecutor();
  // a: 5 elements, b: 1 element; with 2 elements per chunk that is 3 + 1 chunks per version
  private final ModelShards shards = new ModelShards("models/m", List.of("a", "b"), new ShardGroup(p, List.of(
      ShardSpec.whole(0, new TensorShape("a", new long[] {5})), ShardSpec.whole(1, new TensorShape("b", new long[] {1}))),
      List.of(new float[] {1, 2, 3, 4, 5}, new float[] {9}), 1, new CpuBackend(new ParallelApply(exec, 1)),
      new ParallelApply(exec, 1)));
  private static final int CHUNKS_PER_VERSION = 4;

  @AfterEach
  void stop() {
    exec.shutdownNow();
  }

  /** One step of sgd(1.0) with gradient 1 everywhere: every parameter goes down by exactly 1. */
  private void step() {
    shards.applyAsync(new PipelineTimeline.Generation(0, 0, p), new float[][] {{1, 1, 1, 1, 1}, {1}}, 6, false);
  }

  private static float[] floats(com.google.protobuf.ByteString chunk) {
    float[] out = new float[chunk.size() / Float.BYTES];
    TensorBytes.decode(chunk, out, 0);
    return out;
  }

  /** The parameters after {@code k} steps, computed independently of the cache. */
  private static float[][] expected(long k) {
    return new float[][] {{1 - k, 2 - k, 3 - k, 4 - k, 5 - k}, {9 - k}};
  }

  @Test
  void oneEncodingPerVersionSharedByEveryPullAndSplitIntoChunks() {
    SnapshotCache cache = new SnapshotCache(shards);
    ParameterSnapshot all = cache.snapshot(List.of(), 2);
    ParameterSnapshot again = cache.snapshot(List.of(), 2);
    assertThat(again.chunk(0, 2)).isSameAs(all.chunk(0, 2));
    assertThat(cache.encodings()).isEqualTo(1);
    assertThat(all.chunkCount(0)).isEqualTo(3); // 2 + 2 + 1 elements
    assertThat(TestModels.decode(all)[0]).containsExactly(1, 2, 3, 4, 5);
    ParameterSnapshot b = cache.snapshot(List.of("b"), 2);
    assertThat(b.shards()).extracting(ShardSpec::name).containsExactly("b");
    assertThat(b.chunk(0, 0)).isSameAs(all.chunk(1, 0));
    assertThat(cache.encodings()).isEqualTo(1);
    assertThat(cache.referenced()).isEqualTo(3);
    // the next version is encoded anew
    step();
    ParameterSnapshot next = cache.snapshot(List.of(), 2);
    assertThat(next.step()).isEqualTo(1);
    assertThat(TestModels.decode(next)[1]).containsExactly(8f);
    assertThat(cache.encodings()).isEqualTo(2);
  }

  @Test
  void chunksAreCopiedWhenFirstTakenOncePerVersion() {
    SnapshotCache cache = new SnapshotCache(shards);
    ParameterSnapshot first = cache.snapshot(List.of(), 2);
    ParameterSnapshot second = cache.snapshot(List.of(), 2);
    assertThat(cache.chunksCopied()).as("nothing copied before a pull takes a chunk").isZero();
    assertThat(floats(first.chunk(0, 1))).containsExactly(3, 4);
    assertThat(cache.chunksCopied()).isEqualTo(1);
    assertThat(floats(second.chunk(0, 1))).containsExactly(3, 4);
    assertThat(cache.chunksCopied()).as("the second pull takes the first one's copy").isEqualTo(1);
    assertThat(TestModels.decode(second)).isDeepEqualTo(expected(0));
    assertThat(cache.chunksCopied()).isEqualTo(CHUNKS_PER_VERSION);
  }

  @Test
  void aSnapshotTakenBeforeAStepHoldsItsVersionWhenReadAfterIt() {
    SnapshotCache cache = new SnapshotCache(shards);
    ParameterSnapshot s0 = cache.snapshot(List.of(), 2);
    assertThat(floats(s0.chunk(0, 0))).containsExactly(1, 2); // one chunk sent, three still owed
    step(); // copies the three out of the parameters before it changes them
    assertThat(cache.chunksCopied()).isEqualTo(CHUNKS_PER_VERSION);
    ParameterSnapshot b0 = cache.snapshot(List.of("b"), 2); // version 1 now: a new wire form
    assertThat(b0.step()).isEqualTo(1);
    step();
    step();
    assertThat(TestModels.decode(s0)).as("version 0 read after 3 steps").isDeepEqualTo(expected(0));
    assertThat(TestModels.decode(b0)).as("version 1 read after 2 more").isDeepEqualTo(new float[][] {{8}});
    assertThat(TestModels.decode(cache.snapshot(List.of(), 2))).isDeepEqualTo(expected(3));
  }

  @Test
  void aVersionNoPullReadsIsDroppedNotCopiedWhenTheParametersChange() {
    SnapshotCache cache = new SnapshotCache(shards);
    cache.snapshot(List.of(), 2).release(); // a pull that ended before taking a chunk (cancelled)
    step();
    assertThat(cache.chunksCopied()).isZero();
    assertThat(cache.referenced()).isZero();
    ParameterSnapshot s1 = cache.snapshot(List.of(), 2);
    assertThat(TestModels.decode(s1)).isDeepEqualTo(expected(1));
    assertThat(cache.allocated()).as("the dropped version's buffers were reused").isEqualTo(CHUNKS_PER_VERSION);
  }

  @Test
  void deletingTheModelCopiesWhatASnapshotStillOwes() {
    SnapshotCache cache = new SnapshotCache(shards);
    ParameterSnapshot s = cache.snapshot(List.of(), 2);
    shards.close();
    assertThat(TestModels.decode(s)).isDeepEqualTo(expected(0));
  }

  @Test
  void versionsThatNoPullReadsLendTheirBuffersToTheNext() {
    SnapshotCache cache = new SnapshotCache(shards);
    for (int k = 0; k < 50; k++) {
      ParameterSnapshot s = cache.snapshot(List.of(), 2);
      assertThat(s.step()).isEqualTo(k);
      assertThat(TestModels.decode(s)).isDeepEqualTo(expected(k));
      s.release();
      s.release(); // idempotent: a second release must not free a reference someone else holds
      step();
    }
    assertThat(cache.referenced()).isZero();
    assertThat(cache.encodings()).isEqualTo(50);
    assertThat(cache.allocated()).as("one set of buffers for 50 versions").isEqualTo(CHUNKS_PER_VERSION);
  }

  @Test
  void aSnapshotStillReadIsNeverOverwrittenAndThePoolStaysBounded() {
    SnapshotCache cache = new SnapshotCache(shards);
    ParameterSnapshot held = cache.snapshot(List.of(), 2); // version 0, its pull still sending
    List<ParameterSnapshot> holding = new ArrayList<>();
    for (int k = 1; k <= 30; k++) {
      step();
      ParameterSnapshot s = cache.snapshot(List.of(), 2);
      assertThat(TestModels.decode(s)).isDeepEqualTo(expected(k));
      if (k % 3 == 0) {
        holding.add(s); // 10 versions kept busy at once
      } else {
        s.release();
      }
      assertThat(TestModels.decode(held)).as("version 0 after %d later versions", k).isDeepEqualTo(expected(0));
    }
    for (ParameterSnapshot s : holding) {
      assertThat(TestModels.decode(s)).isDeepEqualTo(expected(s.step()));
      s.release();
    }
    held.release();
    assertThat(cache.referenced()).isZero();
    assertThat(cache.pooled()).as("pooled sets").isEqualTo(SnapshotCache.POOLED_SETS);
    long allocated = cache.allocated();
    // 10 held + version 0 + the latest at most; the rest reused
    assertThat(allocated).isLessThanOrEqualTo(12L * CHUNKS_PER_VERSION);
    for (int k = 31; k <= 60; k++) {
      step();
      ParameterSnapshot s = cache.snapshot(List.of(), 2);
      assertThat(TestModels.decode(s)).isDeepEqualTo(expected(k));
      s.release();
    }
    assertThat(cache.allocated()).as("no allocation once the pool has sets").isEqualTo(allocated);
    assertThat(cache.pooled()).isLessThanOrEqualTo(SnapshotCache.POOLED_SETS);
  }
}
