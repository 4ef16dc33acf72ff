package dev.shardopt.dsl;

import static dev.shardopt.dsl.Optimizers.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.shardopt.v1.Adam;
import dev.shardopt.v1.NonFinitePolicy;
import dev.shardopt.v1.OptimizerPipeline;
import dev.shardopt.v1.ParameterRule;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

class PipelineProtosTest {

  @ParameterizedTest
  @MethodSource("dev.shardopt.dsl.PipelineTextTest#corpus")
  void protoAndJsonRoundTripExactly(String text) throws Exception {
    Pipeline p = Pipeline.parse(text);
    OptimizerPipeline proto = p.toProto();
    assertThat(Pipeline.fromProto(proto)).isEqualTo(p);
    assertThat(Pipeline.fromProto(OptimizerPipeline.parseFrom(proto.toByteArray()))).isEqualTo(p);
    assertThat(Pipeline.fromJson(p.toJson())).isEqualTo(p);
    assertThat(Pipeline.fromJson(p.toJson()).toString()).isEqualTo(text);
  }

  @Test
  void protoCarriesEveryEffectiveValue() {
    OptimizerPipeline m =
        adam(1e-3).beta2(0.98).warmup(500).cosine(1e5).clipNorm(1.0).weightDecay(0.01).skipNonFinite()
            .noDecay("*.bias").toProto();
    assertThat(m.getSpecVersion()).isEqualTo(1);
    assertThat(m.getAdam().getLr()).isEqualTo(1e-3);
    assertThat(m.getAdam().getBeta1()).isEqualTo(0.9);
    assertThat(m.getAdam().getBeta2()).isEqualTo(0.98);
    assertThat(m.getAdam().getEps()).isEqualTo(1e-8);
    assertThat(m.getSchedule().getWarmupSteps()).isEqualTo(500);
    assertThat(m.getSchedule().getCosine().getTotalSteps()).isEqualTo(100_000);
    assertThat(m.getClipping().hasValue()).isFalse();
    assertThat(m.getClipping().getNorm()).isEqualTo(1.0);
    assertThat(m.getWeightDecay()).isEqualTo(0.01);
    assertThat(m.getNonFinite()).isEqualTo(NonFinitePolicy.NON_FINITE_POLICY_SKIP_STEP);
    assertThat(m.getParameterRulesList())
        .containsExactly(ParameterRule.newBuilder().setKind(ParameterRule.Kind.NO_DECAY).setGlob("*.bias").build());
    assertThat(adamw().toProto().getWeightDecay()).isEqualTo(0.01);
  }

  @Test
  void absentFieldsTakeTheDefaults() {
    Pipeline p = Pipeline.fromJson("{\"adam\": {\"lr\": 0.01}}");
    assertThat(p).isEqualTo(adam(0.01));
    assertThat(Pipeline.fromJson("{\"adamw\": {}}").weightDecayRate()).isEqualTo(0.01);
    assertThat(Pipeline.fromJson("{\"lion\": {}, \"schedule\": {\"stepDecay\": {\"every\": \"7\"}}}"))
        .isEqualTo(lion().stepDecay(7));
    assertThat(Pipeline.fromProto(OptimizerPipeline.newBuilder().setAdam(Adam.getDefaultInstance()).build()))
        .isEqualTo(adam());
  }

  @Test
  void badMessagesAreRefusedWithTheFieldName() {
    assertThatThrownBy(() -> Pipeline.fromProto(OptimizerPipeline.getDefaultInstance()))
        .hasMessage("rule is not set; a pipeline needs exactly one of sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw, lion");
    assertThatThrownBy(() -> Pipeline.fromProto(
            OptimizerPipeline.newBuilder().setSpecVersion(2).setSgd(dev.shardopt.v1.Sgd.getDefaultInstance()).build()))
        .hasMessage("spec_version 2 is newer than this build reads (1)");
    assertThatThrownBy(() -> Pipeline.fromJson("{\"adam\": {\"beta2\": 1.5}}"))
        .hasMessage("beta2 must be in [0, 1), got 1.5");
    assertThatThrownBy(() -> Pipeline.fromJson("{\"adam\": {\"beta3\": 1}}"))
        .isInstanceOf(InvalidPipelineException.class)
        .hasMessageStartingWith("pipeline JSON does not parse:");
    assertThatThrownBy(() -> Pipeline.fromJson("{\"sgd\": {}, \"clipping\": {\"norm\": -1}}"))
        .hasMessage("clipping.norm must be in (0, inf) and finite, got -1.0");
  }
}
