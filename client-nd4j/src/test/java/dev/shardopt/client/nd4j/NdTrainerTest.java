package dev.shardopt.client.nd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.shardopt.client.ModelOptions;
import dev.shardopt.client.RemoteModel;
import dev.shardopt.client.ShardoptCluster;
import dev.shardopt.client.Tensors;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.embedded.ShardoptLocal;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** INDArray pushes and pulls against an embedded cluster of 2 workers. */
class NdTrainerTest {
  private static ShardoptCluster cluster;

  @BeforeAll
  static void start() {
    cluster = ShardoptLocal.start(2);
  }

  @AfterAll
  static void stop() {
    cluster.close();
  }

  private static RemoteModel model(String id) {
    return cluster.createModel(ModelOptions.named(id).pipeline(Pipeline.parse("sgd(0.5)")).trainers(1).sync()
        .tensors(Tensors.of("w", new float[] {1, 2, 3, 4, 5, 6}, 2, 3), Tensors.of("b", new float[] {10, 20, 30}, 3)));
  }

  /**
   * The same gradient pushed as INDArrays (w in F order, b as DOUBLE) and as float[]s gives bitwise
   * the same parameters, and those are sgd's w - 0.5 g, worked out by hand.
   */
  @Test
  void anIndArrayPushIsThePlainPushOfItsRowMajorValues() {
    RemoteModel nd = model("nd-push-nd");
    RemoteModel plain = model("nd-push-plain");
    INDArray gw = Nd4j.create(DataType.FLOAT, new long[] {2, 3}, 'f');
    float[] gwRows = {2, -4, 6, 0.5f, 1, -1};
    for (int i = 0; i < 6; i++) {
      gw.putScalar(i / 3, i % 3, gwRows[i]);
    }
    INDArray gb = Nd4j.createFromArray(new double[] {1, 2, 4});
    NdTrainer t = new NdTrainer(nd.trainer(0, 1));
    t.push(0, Map.of("w", gw, "b", gb));
    plain.trainer(0, 1).push(0, Map.of("w", gwRows, "b", new float[] {1, 2, 4}));

    Map<String, float[]> a = nd.pull(1);
    Map<String, float[]> b = plain.pull(1);
    assertThat(a.get("w")).containsExactly(b.get("w"));
    assertThat(a.get("b")).containsExactly(b.get("b"));
    assertThat(a.get("w")).containsExactly(0f, 4f, 0f, 3.75f, 4.5f, 6.5f);
    assertThat(a.get("b")).containsExactly(9.5f, 19f, 28f);
    assertThat(t.nextStep()).isEqualTo(1);
  }

  @Test
  void pullGivesFloatArraysOfTheModelsShapes() {
    NdTrainer t = new NdTrainer(model("nd-pull").trainer(0, 1));
    Map<String, INDArray> p = t.pull();
    assertThat(p.keySet()).containsExactly("w", "b");
    assertThat(p.get("w").shape()).containsExactly(2, 3);
    assertThat(p.get("w").dataType()).isEqualTo(DataType.FLOAT);
    assertThat(p.get("w").getFloat(1, 0)).isEqualTo(4f);
    assertThat(p.get("b").shape()).containsExactly(3);
    assertThat(p.get("b").getFloat(2)).isEqualTo(30f);
  }

  /** The caller's arrays receive the values in place, whatever their layout and type. */
  @Test
  void pullIntoWritesTheCallersArrays() {
    RemoteModel m = model("nd-pull-into");
    NdTrainer t = new NdTrainer(m.trainer(0, 1));
    t.push(0, Map.of("w", Nd4j.ones(DataType.FLOAT, 2, 3), "b", Nd4j.ones(DataType.FLOAT, 3)));
    INDArray w = Nd4j.create(DataType.FLOAT, new long[] {2, 3}, 'f');
    INDArray b = Nd4j.zeros(DataType.DOUBLE, 3);
    Map<String, INDArray> targets = new LinkedHashMap<>();
    targets.put("w", w);
    targets.put("b", b);
    long step = t.pullInto(targets);
    assertThat(step).isEqualTo(1);
    assertThat(targets.get("w")).isSameAs(w);
    assertThat(w.getFloat(0, 0)).isEqualTo(0.5f);
    assertThat(w.getFloat(1, 2)).isEqualTo(5.5f);
    assertThat(b.toDoubleVector()).containsExactly(9.5, 19.5, 29.5);
  }

  /** A bad target is refused before the pull: no target is written. */
  @Test
  void aBadTargetIsRefusedBeforeAnythingIsWritten() {
    NdTrainer t = new NdTrainer(model("nd-bad-target").trainer(0, 1));
    INDArray w = Nd4j.zeros(DataType.FLOAT, 2, 3);
    Map<String, INDArray> wrongShape = new LinkedHashMap<>();
    wrongShape.put("w", w);
    wrongShape.put("b", Nd4j.zeros(DataType.FLOAT, 1, 3));
    assertThatThrownBy(() -> t.pullInto(wrongShape))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("the pull target of tensor 'b' has shape [1, 3], expected the model's shape [3]");
    assertThat(w.sumNumber().doubleValue()).isZero();
    assertThatThrownBy(() -> t.pullInto(Map.of("bias", Nd4j.zeros(DataType.FLOAT, 3))))
        .hasMessage("the pull targets have tensor 'bias', which model 'nd-bad-target' does not have; "
            + "its tensors are [w, b]");
  }

  @Test
  void aBadGradientIsRefusedNamingTheTensorAndNothingIsPushed() {
    RemoteModel m = model("nd-bad-grad");
    NdTrainer t = new NdTrainer(m.trainer(0, 1));
    assertThatThrownBy(() -> t.push(0, Map.of("w", Nd4j.zeros(DataType.FLOAT, 3, 2), "b", Nd4j.zeros(DataType.FLOAT, 3))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("the gradient of tensor 'w' has shape [3, 2], expected the model's shape [2, 3]");
    assertThatThrownBy(() -> t.push(0, Map.of("w", Nd4j.zeros(DataType.FLOAT, 2, 3))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("lacks tensor [b]");
    assertThatThrownBy(() -> t.push(0, Map.of("w", Nd4j.zeros(DataType.FLOAT, 2, 3), "b",
        Nd4j.zeros(DataType.FLOAT, 3), "extra", Nd4j.zeros(DataType.FLOAT, 1))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("the gradient has tensor 'extra', which model 'nd-bad-grad' does not have");
    Map<String, INDArray> withNull = new LinkedHashMap<>();
    withNull.put("w", null);
    withNull.put("b", Nd4j.zeros(DataType.FLOAT, 3));
    assertThatThrownBy(() -> t.push(0, withNull))
        .hasMessage("the gradient of tensor 'w' is null, expected an array of shape [2, 3]");
    withNull.put("w", Nd4j.zeros(DataType.FLOAT, 2, 3));
    withNull.put("extra", null);
    assertThatThrownBy(() -> t.push(0, withNull))
        .hasMessage("the gradient has tensor 'extra' with no array, and model 'nd-bad-grad' does not have that "
            + "tensor; its tensors are [w, b]");
    assertThat(t.nextStep()).isZero();
    assertThat(m.step()).isZero();
  }
}
