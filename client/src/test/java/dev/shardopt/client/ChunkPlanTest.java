package dev.shardopt.client;

import static dev.shardopt.client.Fixtures.A;
import static dev.shardopt.client.Fixtures.B;
import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.rpc.TensorBytes;
import dev.shardopt.v1.TensorChunk;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ChunkPlanTest {

  private static float[] decode(TensorChunk c) {
    float[] out = new float[TensorBytes.floatCount(c.getData())];
    TensorBytes.decode(c.getData(), out, 0);
    return out;
  }

  @Test
  void splitsEachWorkersShardsIntoChunksOfAtMostTheChunkSize() {
    Map<String, float[]> values = Fixtures.values(0.5f);
    Map<String, List<TensorChunk>> split = ChunkPlan.split(Fixtures.layout(), values, 1000);

    assertThat(split.keySet()).containsExactly(A, B);
    // A: w [0, 8192) = 8 chunks of 1000 and one of 192.
    List<TensorChunk> a = split.get(A);
    assertThat(a).hasSize(9);
    assertThat(a).extracting(TensorChunk::getTensor).containsOnly("w");
    assertThat(a).extracting(TensorChunk::getOffset)
        .containsExactly(0L, 1000L, 2000L, 3000L, 4000L, 5000L, 6000L, 7000L, 8000L);
    assertThat(a.get(8).getData().size()).isEqualTo(192 * 4);
    // B: w [8192, 12288) = 4 x 1000 + 96, then b (100) and c (7): chunks never cross shards.
    List<TensorChunk> b = split.get(B);
    assertThat(b).extracting(c -> c.getTensor() + "@" + c.getOffset() + "+" + c.getData().size() / 4)
        .containsExactly("w@8192+1000", "w@9192+1000", "w@10192+1000", "w@11192+1000", "w@12192+96",
            "b@0+100", "c@0+7");
    // Every chunk carries exactly its range's values, and nothing names the model.
    for (List<TensorChunk> chunks : split.values()) {
      for (TensorChunk c : chunks) {
        float[] expected = values.get(c.getTensor());
        float[] got = decode(c);
        for (int i = 0; i < got.length; i++) {
          assertThat(got[i]).isEqualTo(expected[(int) c.getOffset() + i]);
        }
        assertThat(c.getModel()).isEmpty();
      }
    }
  }

  @Test
  void aChunkSizeLargerThanEveryShardGivesOneChunkPerShard() {
    Map<String, List<TensorChunk>> split =
        ChunkPlan.split(Fixtures.layout(), Fixtures.values(0), TensorBytes.DEFAULT_CHUNK_BYTES / 4);
    assertThat(split.get(A)).hasSize(1);
    assertThat(split.get(B)).hasSize(3);
  }

  @Test
  void spansCanBeLimitedToSomeTensorsAndEncodeLazily() {
    ShardLayout.WorkerShards b = Fixtures.layout().workers().get(1);
    List<ChunkPlan.Span> spans = ChunkPlan.spans(b.shards(), 64, Set.of("b", "c"));
    assertThat(spans).containsExactly(
        new ChunkPlan.Span("b", 0, 64), new ChunkPlan.Span("b", 64, 36), new ChunkPlan.Span("c", 0, 7));
    // Only b and c are needed to encode them: the iterator touches no other tensor.
    Map<String, float[]> partial = Map.of("b", new float[100], "c", new float[] {1, 2, 3, 4, 5, 6, 7});
    List<TensorChunk> chunks = new ArrayList<>();
    ChunkPlan.chunks(spans, partial).forEachRemaining(chunks::add);
    assertThat(decode(chunks.get(2))).containsExactly(1, 2, 3, 4, 5, 6, 7);
  }
}
