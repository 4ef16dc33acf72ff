package dev.shardopt.client;

import static dev.shardopt.client.Initializers.constant;
import static dev.shardopt.client.Initializers.normal;
import static dev.shardopt.client.Initializers.uniform;
import static dev.shardopt.client.Initializers.upload;
import static dev.shardopt.client.Initializers.zeros;
import static dev.shardopt.dsl.Optimizers.adam;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.shardopt.v1.Initializer;
import dev.shardopt.v1.Model;
import dev.shardopt.v1.TrainingMode;
import org.junit.jupiter.api.Test;

class DefinitionsTest {

  @Test
  void initializersBuildTheirProtos() {
    assertThat(zeros().hasZeros()).isTrue();
    assertThat(constant(0.5).getConstant().getValue()).isEqualTo(0.5);
    Initializer.Normal n = normal(0.05, 42).getNormal();
    assertThat(n.getMean()).isZero();
    assertThat(n.getStd()).isEqualTo(0.05);
    assertThat(n.getSeed()).isEqualTo(42);
    assertThat(normal(1, 2, 3).getNormal().getMean()).isEqualTo(1);
    assertThat(uniform(-1, 1, 7).getUniform().getHigh()).isEqualTo(1);
    assertThatThrownBy(() -> normal(-1, 1)).hasMessage("normal std must be >= 0, got -1.0");
    assertThatThrownBy(() -> uniform(1, 0, 1)).hasMessage("uniform low must be <= high, got low 1.0 and high 0.0");
  }

  @Test
  void tensorDefsAreImmutableValues() {
    TensorDef w = Tensors.of("w1", 64, 128);
    TensorDef init = w.init(normal(0.05, 42));
    assertThat(w.initializer()).isEqualTo(zeros());
    assertThat(init.initializer()).isEqualTo(normal(0.05, 42));
    assertThat(init.elements()).isEqualTo(64 * 128);
    assertThat(init.toProto().getShapeList()).containsExactly(64L, 128L);
    assertThat(Tensors.of("scalar").elements()).isEqualTo(1);

    float[] values = {1, 2, 3, 4, 5, 6};
    TensorDef up = Tensors.of("u", values, 2, 3);
    values[0] = 99;
    assertThat(up.values()[0]).isEqualTo(1f);
    assertThat(up.isUpload()).isTrue();
    assertThat(up.initializer()).isEqualTo(upload());
  }

  @Test
  void tensorDefsRefuseBadShapesAndValues() {
    assertThatThrownBy(() -> Tensors.of("w", 3, 0))
        .hasMessage("tensor 'w': every dimension must be positive, got shape [3, 0]");
    assertThatThrownBy(() -> Tensors.of("w", 1L << 20, 1L << 20))
        .hasMessageContaining("has more than 2147483639 elements");
    assertThatThrownBy(() -> Tensors.of("u", new float[5], 2, 3))
        .hasMessage("tensor 'u' has 5 values, expected 6 for shape [2, 3]");
    assertThatThrownBy(() -> Tensors.of("w", 2).init(upload()))
        .hasMessageContaining("the upload initializer needs values");
    assertThatThrownBy(() -> Tensors.of("u", new float[2], 2).init(zeros()))
        .isInstanceOf(IllegalStateException.class);
  }

  @Test
  void modelOptionsBuildTheModel() {
    Model m = ModelOptions.named("mlp")
        .pipeline(adam(1e-3).warmup(100))
        .trainers(2)
        .async(4)
        .tensors(Tensors.of("w", 2, 2), Tensors.of("b", new float[] {1, 2}, 2))
        .toProto();
    assertThat(m.getTrainers()).isEqualTo(2);
    assertThat(m.getMode()).isEqualTo(TrainingMode.ASYNC);
    assertThat(m.getStaleness()).isEqualTo(4);
    assertThat(m.getTensorsList()).extracting(t -> t.getName()).containsExactly("w", "b");
    assertThat(m.getPipeline()).isEqualTo(adam(1e-3).warmup(100).toProto());
    assertThat(ModelOptions.named("m").pipeline(adam()).tensors(Tensors.of("w", 1)).toProto().getMode())
        .isEqualTo(TrainingMode.SYNC);
  }

  @Test
  void modelOptionsRefuseBadValues() {
    assertThatThrownBy(() -> ModelOptions.named("MLP")).hasMessageContaining("model id 'MLP' is not valid");
    assertThatThrownBy(() -> ModelOptions.named("m").trainers(0)).hasMessage("trainers must be at least 1, got 0");
    assertThatThrownBy(() -> ModelOptions.named("m").tensors(Tensors.of("w", 1), Tensors.of("w", 2)))
        .hasMessage("model 'm' has two tensors named 'w'; tensor names must be unique");
    assertThatThrownBy(() -> ModelOptions.named("m").tensors(Tensors.of("w", 1)).toProto())
        .hasMessageContaining("needs a pipeline");
    assertThatThrownBy(() -> ModelOptions.named("m").pipeline(adam()).toProto())
        .hasMessageContaining("needs at least one tensor");
  }
}
