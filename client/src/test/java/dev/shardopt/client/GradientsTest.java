package dev.shardopt.client;

import static dev.shardopt.dsl.Optimizers.sgd;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.shardopt.dsl.Pipeline;
import dev.shardopt.v1.TensorSpec;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class GradientsTest {

  private static Map<String, float[]> gradient(float[] w, float[] b, float[] c) {
    Map<String, float[]> g = new LinkedHashMap<>();
    g.put("w", w);
    g.put("b", b);
    g.put("c", c);
    return g;
  }

  @Test
  void acceptsEveryTensorWithItsLength() {
    Gradients.validate("m", Fixtures.tensors(), Fixtures.values(0));
  }

  @Test
  void namesTheTensorGotAndExpectedForAWrongLength() {
    Map<String, float[]> g = Fixtures.values(0);
    g.put("b", new float[99]);
    assertThatThrownBy(() -> Gradients.validate("m", Fixtures.tensors(), g))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("the gradient of tensor 'b' (shape [100], 100 elements) of model 'm' has 99 "
            + "elements, expected 100");
  }

  @Test
  void namesMissingAndUnknownTensors() {
    Map<String, float[]> missing = Fixtures.values(0);
    missing.remove("w");
    missing.remove("c");
    assertThatThrownBy(() -> Gradients.validate("m", Fixtures.tensors(), missing))
        .hasMessage("the gradient of model 'm' lacks tensors [w, c] (got none, expected 12288 "
            + "elements for 'w'); a push carries every tensor of the model, frozen ones included");

    Map<String, float[]> extra = Fixtures.values(0);
    extra.put("x", new float[1]);
    assertThatThrownBy(() -> Gradients.validate("m", Fixtures.tensors(), extra))
        .hasMessage("the gradient has tensor 'x', which model 'm' does not have; its tensors are [w, b, c]");

    Map<String, float[]> nullValue = new HashMap<>(Fixtures.values(0));
    nullValue.put("c", null);
    assertThatThrownBy(() -> Gradients.validate("m", Fixtures.tensors(), nullValue))
        .hasMessageContaining("lacks tensor [c]");
  }

  @Test
  void asyncNormIsTheClampedSumOfSquaresOverNonFrozenTensors() {
    List<TensorInfo> tensors = TensorInfo.of(List.of(
        TensorSpec.newBuilder().setName("enc.w").addShape(2).addShape(2).build(),
        TensorSpec.newBuilder().setName("emb").addShape(3).build(),
        TensorSpec.newBuilder().setName("enc.b").addShape(2).build()));
    Map<String, float[]> g = new LinkedHashMap<>();
    g.put("enc.w", new float[] {3f, -4f, 0.5f, -0.25f});
    g.put("emb", new float[] {100f, 100f, Float.NaN}); // frozen: counts nowhere, its NaN included
    g.put("enc.b", new float[] {-2.5f, 1f});
    Pipeline p = sgd(0.1).clipValue(2.0).freeze("emb");

    Gradients.Stats s = Gradients.stats(tensors, g, p);
    // clamp to [-2, 2]: 2, -2, 0.5, -0.25, -2, 1 -> 4 + 4 + 0.25 + 0.0625 + 4 + 1
    assertThat(s.normSquared()).isEqualTo(13.3125);
    assertThat(s.nonFinite()).isFalse();

    // Without clipValue the raw squares: 9 + 16 + 0.25 + 0.0625 + 6.25 + 1.
    assertThat(Gradients.stats(tensors, g, sgd(0.1).freeze("emb")).normSquared()).isEqualTo(32.5625);

    g.put("enc.b", new float[] {Float.POSITIVE_INFINITY, 1f});
    Gradients.Stats inf = Gradients.stats(tensors, g, p);
    assertThat(inf.nonFinite()).isTrue();
    assertThat(inf.normSquared()).isEqualTo(4 + 4 + 0.25 + 0.0625 + 4 + 1); // Inf clamps to 2
  }

  @Test
  void asyncNormSumsInBlocksLikeTheWorkers() {
    // 3 blocks of 8192 (the last partial): block sums added in order, per tensor, then tensors.
    float[] big = new float[2 * Gradients.BLOCK + 10];
    for (int i = 0; i < big.length; i++) {
      big[i] = (float) Math.sin(i) * 1e-3f + (i % 7 == 0 ? 1000f : 0f);
    }
    float[] small = {0.1f, 0.2f};
    List<TensorInfo> tensors = TensorInfo.of(List.of(
        TensorSpec.newBuilder().setName("big").addShape(big.length).build(),
        TensorSpec.newBuilder().setName("small").addShape(2).build()));
    double tensorSum = 0;
    for (int b = 0; b * Gradients.BLOCK < big.length; b++) {
      double block = 0;
      for (int i = b * Gradients.BLOCK; i < Math.min(big.length, (b + 1) * Gradients.BLOCK); i++) {
        block += (double) big[i] * big[i];
      }
      tensorSum += block;
    }
    double expected = 0;
    expected += tensorSum;
    expected += (double) 0.1f * 0.1f + (double) 0.2f * 0.2f;
    assertThat(Gradients.stats(tensors, Map.of("big", big, "small", small), sgd()).normSquared())
        .isEqualTo(expected);
  }
}
