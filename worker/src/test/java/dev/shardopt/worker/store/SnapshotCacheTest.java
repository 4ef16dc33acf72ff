package dev.shardopt.worker.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.dsl.Pipeline;
import dev.shardopt.engine.ShardGroup;
import dev.shardopt.engine.ShardSpec;
import dev.shardopt.engine.TensorShape;
import dev.shardopt.engine.device.CpuBackend;
import dev.shardopt.engine.kernel.ParallelApply;
import java.util.List;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.Test;

class SnapshotCacheTest {
  @Test
  void oneEncodingPerVersionSharedByEveryPullAndSplitIntoChunks() {
    Pipeline p = Pipeline.parse("sgd(1.0)");
    var exec = Executors.newSingleThreadExecutor();
    try {
      ShardGroup group = new ShardGroup(p, List.of(
          ShardSpec.whole(0, new TensorShape("a", new long[] {5})), ShardSpec.whole(1, new TensorShape("b", new long[] {1}))),
          List.of(new float[] {1, 2, 3, 4, 5}, new float[] {9}), 1, new CpuBackend(new ParallelApply(exec, 1)),
          new ParallelApply(exec, 1));
      ModelShards shards = new ModelShards("models/m", List.of("a", "b"), group);
      SnapshotCache cache = new SnapshotCache(shards);
      ParameterSnapshot all = cache.snapshot(List.of(), 2);
      assertThat(cache.snapshot(List.of(), 2)).isSameAs(all);
      assertThat(cache.encodings()).isEqualTo(1);
      assertThat(all.chunks().get(0)).hasSize(3); // 2 + 2 + 1 elements
      assertThat(TestModels.decode(all)[0]).containsExactly(1, 2, 3, 4, 5);
      ParameterSnapshot b = cache.snapshot(List.of("b"), 2);
      assertThat(b.shards()).extracting(ShardSpec::name).containsExactly("b");
      assertThat(b.chunks().get(0)).isSameAs(all.chunks().get(1));
      assertThat(cache.encodings()).isEqualTo(1);
      // the next version is encoded anew
      shards.applyAsync(new PipelineTimeline.Generation(0, 0, p), new float[][] {{1, 1, 1, 1, 1}, {1}}, 6, false);
      ParameterSnapshot next = cache.snapshot(List.of(), 2);
      assertThat(next.step()).isEqualTo(1);
      assertThat(TestModels.decode(next)[1]).containsExactly(8f);
      assertThat(cache.encodings()).isEqualTo(2);
    } finally {
      exec.shutdownNow();
    }
  }
}
