package dev.shardopt.client;

import static dev.shardopt.client.Fixtures.A;
import static dev.shardopt.client.Fixtures.B;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.shardopt.v1.PullResponse;
import dev.shardopt.v1.TensorChunk;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PullAssemblerTest {

  private static List<PullResponse> responses(List<TensorChunk> chunks, long step) {
    return chunks.stream().map(c -> PullResponse.newBuilder().setStep(step).setChunk(c).build()).toList();
  }

  @Test
  void assemblesChunksFromBothWorkersInAnyOrder() {
    Map<String, float[]> values = Fixtures.values(0.25f);
    Map<String, List<TensorChunk>> split = ChunkPlan.split(Fixtures.layout(), values, 700);
    List<PullResponse> a = responses(split.get(A), 5);
    List<PullResponse> b = new ArrayList<>(responses(split.get(B), 5));
    java.util.Collections.reverse(b);

    PullAssembler assembler = new PullAssembler(Fixtures.tensors());
    for (int i = 0; i < Math.max(a.size(), b.size()); i++) { // interleaved
      if (i < b.size()) {
        assembler.accept(B, b.get(i));
      }
      if (i < a.size()) {
        assembler.accept(A, a.get(i));
      }
    }
    PulledParameters p = assembler.finish();
    assertThat(p.step()).isEqualTo(5);
    assertThat(p.tensors().keySet()).containsExactly("w", "b", "c");
    for (String name : values.keySet()) {
      assertThat(p.get(name)).containsExactly(values.get(name));
    }
  }

  @Test
  void reportsTheFirstMissingRange() {
    Map<String, List<TensorChunk>> split = ChunkPlan.split(Fixtures.layout(), Fixtures.values(0), 1000);
    PullAssembler assembler = new PullAssembler(Fixtures.tensors());
    responses(split.get(A), 1).forEach(r -> assembler.accept(A, r));
    List<PullResponse> b = responses(split.get(B), 1);
    for (int i = 0; i < b.size(); i++) {
      if (i != 2) { // w [10192, 11192) never arrives
        assembler.accept(B, b.get(i));
      }
    }
    assertThatThrownBy(assembler::finish)
        .isInstanceOf(ShardoptException.class)
        .hasMessage("the pull is incomplete: tensor 'w' (12288 elements): elements [10192, 11192) are missing");
  }

  @Test
  void refusesAnOverlapAsSoonAsItArrives() {
    PullAssembler assembler = new PullAssembler(Fixtures.tensors());
    assembler.accept(A, PullResponse.newBuilder().setStep(0)
        .setChunk(chunk("w", 0, new float[8192])).build());
    assertThatThrownBy(() -> assembler.accept(B, PullResponse.newBuilder().setStep(0)
            .setChunk(chunk("w", 8190, new float[10])).build()))
        .hasMessage("tensor 'w': elements [8190, 8200) from worker " + B
            + " overlap elements [0, 8192) from worker " + A)
        .satisfies(e -> assertThat(((ShardoptException) e).code()).isEqualTo(Status.Code.INTERNAL));
  }

  @Test
  void refusesUnknownTensorsRangesPastTheEndAndPartialFloats() {
    PullAssembler assembler = new PullAssembler(Fixtures.tensors());
    assertThatThrownBy(() -> assembler.accept(A, PullResponse.newBuilder()
            .setChunk(chunk("z", 0, new float[1])).build()))
        .hasMessageContaining("worker " + A + " returned tensor 'z', which the model does not have");
    assertThatThrownBy(() -> assembler.accept(B, PullResponse.newBuilder()
            .setChunk(chunk("c", 5, new float[3])).build()))
        .hasMessage("tensor 'c': elements [5, 8) from worker " + B + " lie beyond its 7 elements");
    assertThatThrownBy(() -> assembler.accept(B, PullResponse.newBuilder()
            .setChunk(TensorChunk.newBuilder().setTensor("c").setData(ByteString.copyFrom(new byte[6]))).build()))
        .hasMessageContaining("returned 6 bytes for tensor 'c' at offset 0, not a whole number of float32 values");
  }

  @Test
  void aWorkerBehindIsForgottenAndPulledAgainWhileTheOthersAnswerStays() {
    Map<String, float[]> at3 = Fixtures.values(3);
    Map<String, float[]> at4 = Fixtures.values(4);
    Map<String, List<TensorChunk>> old = ChunkPlan.split(Fixtures.layout(), at3, 5000);
    Map<String, List<TensorChunk>> now = ChunkPlan.split(Fixtures.layout(), at4, 5000);
    Map<String, float[]> into = new java.util.LinkedHashMap<>();
    at4.forEach((name, v) -> into.put(name, new float[v.length]));
    PullAssembler assembler = new PullAssembler(Fixtures.tensors(), into);
    responses(old.get(A), 3).forEach(r -> assembler.accept(A, r));
    responses(now.get(B), 4).forEach(r -> assembler.accept(B, r));
    assertThatThrownBy(assembler::finish).hasMessageContaining("different steps");

    assembler.forget(A);
    assertThat(assembler.steps()).containsOnlyKeys(B);
    assertThatThrownBy(assembler::finish).hasMessageContaining("the pull is incomplete");
    responses(now.get(A), 4).forEach(r -> assembler.accept(A, r)); // no overlap with its own earlier answer
    PulledParameters p = assembler.finish();
    assertThat(p.step()).isEqualTo(4);
    at4.forEach((name, v) -> assertThat(p.get(name)).as(name).isEqualTo(v).isSameAs(into.get(name)));
  }

  @Test
  void refusesWorkersAtDifferentSteps() {
    Map<String, List<TensorChunk>> split = ChunkPlan.split(Fixtures.layout(), Fixtures.values(0), 5000);
    PullAssembler assembler = new PullAssembler(Fixtures.tensors());
    responses(split.get(A), 3).forEach(r -> assembler.accept(A, r));
    responses(split.get(B), 4).forEach(r -> assembler.accept(B, r));
    assertThat(assembler.stepsDiffer()).isTrue();
    assertThat(assembler.steps()).containsEntry(A, 3L).containsEntry(B, 4L);
    assertThatThrownBy(assembler::finish)
        .isInstanceOf(ShardoptException.class)
        .hasMessage("the workers answered the pull with different steps: " + A + " at step 3, " + B
            + " at step 4")
        .satisfies(e -> assertThat(((ShardoptException) e).code()).isEqualTo(Status.Code.ABORTED));

    PullAssembler mixed = new PullAssembler(Fixtures.tensors());
    List<PullResponse> b = responses(split.get(B), 4);
    mixed.accept(B, b.get(0));
    assertThatThrownBy(() -> mixed.accept(B, b.get(1).toBuilder().setStep(5).build()))
        .hasMessage("worker " + B + " returned chunks of step 4 and of step 5 in one pull");
  }

  private static TensorChunk chunk(String tensor, long offset, float[] data) {
    return TensorChunk.newBuilder().setTensor(tensor).setOffset(offset)
        .setData(dev.shardopt.rpc.TensorBytes.encode(data, 0, data.length)).build();
  }
}
