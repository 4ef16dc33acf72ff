package dev.shardopt.coordinator;

import static dev.shardopt.coordinator.ModelRegistryTest.assertApiError;
import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.v1.Adam;
import dev.shardopt.v1.Clipping;
import dev.shardopt.v1.NonFinitePolicy;
import dev.shardopt.v1.OptimizerPipeline;
import dev.shardopt.v1.ParsePipelineRequest;
import dev.shardopt.v1.ParsePipelineResponse;
import dev.shardopt.v1.PipelineError;
import dev.shardopt.v1.Schedule;
import dev.shardopt.v1.Sgd;
import io.grpc.Status;
import org.junit.jupiter.api.Test;

/**
 * The pipeline of a request as text, message or both. Expected messages are written here by hand
 * from pipeline.proto's documented defaults, not taken from the DSL's own output.
 */
class PipelineInputTest {
  private static OptimizerPipeline adamLr(double lr) {
    return OptimizerPipeline.newBuilder().setAdam(Adam.newBuilder().setLr(lr)).build();
  }

  @Test
  void aTextAloneIsParsed() {
    PipelineInput.Outcome o = PipelineInput.read("model.", null, "adam(1e-3).warmup(500)");
    assertThat(o.valid()).isTrue();
    assertThat(o.pipeline().toString()).isEqualTo("adam().warmup(500)"); // 1e-3 is adam's default lr
    assertThat(o.pipeline().toProto().getAdam().getLr()).isEqualTo(0.001);
    assertThat(o.pipeline().toProto().getSchedule().getWarmupSteps()).isEqualTo(500);
  }

  @Test
  void aMessageAloneIsRead() {
    assertThat(PipelineInput.require("", adamLr(0.05), "").toString()).isEqualTo("adam(0.05)");
    assertThat(PipelineInput.require("", adamLr(0.05), null).toString()).isEqualTo("adam(0.05)");
  }

  @Test
  void bothAreAcceptedWhenTheyAreTheSamePipelineHoweverTheMessageSpellsTheDefaults() {
    OptimizerPipeline spelledOut = OptimizerPipeline.newBuilder()
        .setAdam(Adam.newBuilder().setLr(0.001).setBeta1(0.9).setBeta2(0.999).setEps(1e-8))
        .setSchedule(Schedule.newBuilder().setWarmupSteps(500)).setAccumulate(1).setWeightDecay(0).build();
    assertThat(PipelineInput.require("model.", spelledOut, "adam(1e-3) . warmup(500)").toString())
        .isEqualTo("adam().warmup(500)");
  }

  @Test
  void bothAreRefusedNamingEachWhenTheyDiffer() {
    assertApiError(() -> PipelineInput.require("model.", adamLr(0.01), "adam(0.02)"), Status.Code.INVALID_ARGUMENT)
        .hasMessage("model.pipeline and model.pipeline_text are different pipelines: model.pipeline is adam(0.01),"
            + " model.pipeline_text is adam(0.02); send one of them, or both the same");
  }

  @Test
  void neitherIsRefusedAndAnEmptyTextIsNone() {
    assertApiError(() -> PipelineInput.require("model.", null, ""), Status.Code.INVALID_ARGUMENT)
        .hasMessage("model.pipeline is missing: send model.pipeline_text, the DSL text (e.g."
            + " \"adam(1e-3).warmup(500)\"), or model.pipeline, the message");
    assertThat(PipelineInput.read("", null, null)).isNull();
  }

  @Test
  void aBadTextCarriesTheParsersMessageWithColumnAndSuggestion() {
    assertApiError(() -> PipelineInput.require("model.", null, "adam(1e-3).warmup(500).cosin(1e5)"),
        Status.Code.INVALID_ARGUMENT)
        .hasMessage("model.pipeline_text: unknown method 'cosin' at column 24 — did you mean 'cosine'?");
    // a blank text is given, and is not a pipeline
    assertApiError(() -> PipelineInput.require("", null, "  "), Status.Code.INVALID_ARGUMENT)
        .hasMessageStartingWith("pipeline_text: empty pipeline; start with a base rule");
  }

  @Test
  void withBothGivenEachInvalidOneIsReported() {
    OptimizerPipeline badBeta = OptimizerPipeline.newBuilder().setAdam(Adam.newBuilder().setBeta2(1.5)).build();
    assertApiError(() -> PipelineInput.require("", badBeta, "adam(1e-3"), Status.Code.INVALID_ARGUMENT)
        .hasMessage("pipeline_text: missing ')' to close adam( (at column 10); pipeline: beta2 must be in [0, 1), got 1.5");
  }

  @Test
  void parseAnswersTheCanonicalTextAndTheFullMessage() {
    ParsePipelineResponse r = PipelineInput.parse(
        ParsePipelineRequest.newBuilder().setPipelineText("adam(1e-3).warmup(500).clipNorm(1.0)").build());
    assertThat(r.getErrorsList()).isEmpty();
    assertThat(r.getCanonicalText()).isEqualTo("adam().warmup(500).clipNorm(1.0)");
    // every effective value, as pipeline.proto documents adam's defaults
    assertThat(r.getPipeline()).isEqualTo(OptimizerPipeline.newBuilder().setSpecVersion(1)
        .setAdam(Adam.newBuilder().setLr(0.001).setBeta1(0.9).setBeta2(0.999).setEps(1e-8).setAmsgrad(false))
        .setSchedule(Schedule.newBuilder().setWarmupSteps(500))
        .setClipping(Clipping.newBuilder().setNorm(1.0))
        .setWeightDecay(0).setAccumulate(1).setNonFinite(NonFinitePolicy.NON_FINITE_POLICY_REJECT).build());
  }

  @Test
  void parseOfAMessageAnswersItsText() {
    ParsePipelineResponse r = PipelineInput.parse(ParsePipelineRequest.newBuilder()
        .setPipeline(OptimizerPipeline.newBuilder().setSgd(Sgd.newBuilder().setLr(0.25))).build());
    assertThat(r.getErrorsList()).isEmpty();
    assertThat(r.getCanonicalText()).isEqualTo("sgd(0.25)");
    assertThat(r.getPipeline().getSgd().getLr()).isEqualTo(0.25);
  }

  @Test
  void parseAnswersErrorsWithTheirColumnInsteadOfFailing() {
    ParsePipelineResponse r = PipelineInput.parse(
        ParsePipelineRequest.newBuilder().setPipelineText("adam(1e-3).warmup(500).cosin(1e5)").build());
    assertThat(r.getErrorsList()).containsExactly(PipelineError.newBuilder().setField("pipeline_text")
        .setMessage("unknown method 'cosin' at column 24 — did you mean 'cosine'?").setColumn(24).build());
    assertThat(r.getCanonicalText()).isEmpty();
    assertThat(r.hasPipeline()).isFalse();
  }

  @Test
  void parseReportsADisagreementAndTensorNamesTheRulesRefuse() {
    ParsePipelineResponse differ = PipelineInput.parse(ParsePipelineRequest.newBuilder()
        .setPipelineText("adam(0.02)").setPipeline(adamLr(0.01)).build());
    assertThat(differ.getErrorsList()).extracting(PipelineError::getField, PipelineError::getColumn)
        .containsExactly(org.assertj.core.groups.Tuple.tuple("pipeline_text, pipeline", 0));

    ParsePipelineResponse names = PipelineInput.parse(ParsePipelineRequest.newBuilder()
        .setPipelineText("sgd().lrScale(\"enc.*\", 0.5).lrScale(\"*.weight\", 2.0)")
        .addTensorNames("enc.bias").addTensorNames("enc.weight").build());
    assertThat(names.getErrorsList()).containsExactly(PipelineError.newBuilder().setField("tensor_names[1]")
        .setMessage("parameter 'enc.weight' matches two lrScale globs, \"enc.*\" and \"*.weight\"; a parameter takes"
            + " at most one lrScale").build());
  }

  @Test
  void parseOfNothingIsInvalidArgument() {
    assertApiError(() -> PipelineInput.parse(ParsePipelineRequest.getDefaultInstance()), Status.Code.INVALID_ARGUMENT)
        .hasMessageContaining("pipeline_text and pipeline are both missing");
  }
}
