package dev.shardopt.coordinator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.shardopt.dsl.Pipeline;
import dev.shardopt.rpc.ApiException;
import dev.shardopt.v1.PipelineGeneration;
import dev.shardopt.v1.PipelineSchedule;
import io.grpc.Status;
import java.util.List;
import org.junit.jupiter.api.Test;

class GenerationScheduleTest {
  private static final Pipeline SGD_1 = Pipeline.parse("sgd(0.1)");

  private final GenerationSchedule schedule = new GenerationSchedule("models/m", SGD_1, List.of("enc.weight", "bias"));

  private static PipelineGeneration entry(long generation, long fromStep, String pipeline) {
    return PipelineGeneration.newBuilder().setGeneration(generation).setFromStep(fromStep)
        .setPipeline(Pipeline.parse(pipeline).toProto()).build();
  }

  private ApiException refused(String pipeline, long atStep, Status.Code code) {
    PipelineSchedule before = schedule.toProto();
    ApiException e = catchThrowableOfType(() -> schedule.append(Pipeline.parse(pipeline), atStep), ApiException.class);
    assertThat(e).as("append(%s, %d) is refused", pipeline, atStep).isNotNull();
    assertThat(e.code()).as(e.getMessage()).isEqualTo(code);
    assertThat(schedule.toProto()).as("a refusal changes nothing").isEqualTo(before);
    return e;
  }

  @Test
  void aNewScheduleHasGenerationZeroFromStepZeroAndIsFixedThroughStepZero() {
    assertThat(schedule.toProto()).isEqualTo(PipelineSchedule.newBuilder()
        .addGenerations(entry(0, 0, "sgd(0.1)")).setFixedThrough(0).build());
    assertThat(schedule.at(0)).isEqualTo(new GenerationSchedule.Generation(0, 0, SGD_1));
    assertThat(schedule.at(1_000_000)).isEqualTo(schedule.latest());
    assertThat(schedule.fixedThrough()).isZero();
  }

  @Test
  void theHighestGenerationStartedAtAStepIsInForce() {
    assertThat(schedule.append(Pipeline.parse("sgd(0.05)"), 3))
        .isEqualTo(new GenerationSchedule.Generation(1, 3, Pipeline.parse("sgd(0.05)")));
    assertThat(schedule.append(Pipeline.parse("sgd(0.02)"), 3).generation()).isEqualTo(2);
    assertThat(schedule.append(Pipeline.parse("sgd(0.01)"), 7).generation()).isEqualTo(3);

    long[] inForce = {0, 0, 0, 2, 2, 2, 2, 3, 3};
    for (int step = 0; step < inForce.length; step++) {
      assertThat(schedule.at(step).generation()).as("generation at step %d", step).isEqualTo(inForce[step]);
    }
    assertThat(schedule.at(3).pipeline()).isEqualTo(Pipeline.parse("sgd(0.02)"));
    assertThat(schedule.latest().pipeline()).isEqualTo(Pipeline.parse("sgd(0.01)"));
    assertThat(schedule.toProto().getGenerationsList()).containsExactly(entry(0, 0, "sgd(0.1)"),
        entry(1, 3, "sgd(0.05)"), entry(2, 3, "sgd(0.02)"), entry(3, 7, "sgd(0.01)"));
  }

  @Test
  void theHorizonOnlyMovesForward() {
    schedule.fixThrough(5);
    schedule.fixThrough(2);
    assertThat(schedule.fixedThrough()).isEqualTo(5);
    assertThat(schedule.toProto().getFixedThrough()).isEqualTo(5);
  }

  @Test
  void aChangeAtOrBeforeTheHorizonIsRefusedWithTheStepToChoose() {
    assertThat(refused("sgd(0.05)", 0, Status.Code.FAILED_PRECONDITION))
        .hasMessageContaining("at_step 0 of models/m").hasMessageContaining("fixed through step 0")
        .hasMessageContaining("choose at_step 1 or later");
    schedule.fixThrough(4);
    assertThat(refused("sgd(0.05)", 4, Status.Code.FAILED_PRECONDITION))
        .hasMessageContaining("at_step 4").hasMessageContaining("fixed through step 4")
        .hasMessageContaining("choose at_step 5 or later");
    assertThat(schedule.append(Pipeline.parse("sgd(0.05)"), 5).generation()).isEqualTo(1);
  }

  @Test
  void aChangeBeforeTheNewestEntryIsRefusedWithTheStepToChoose() {
    schedule.append(Pipeline.parse("sgd(0.05)"), 10);
    schedule.fixThrough(4);
    assertThat(refused("sgd(0.02)", 6, Status.Code.FAILED_PRECONDITION))
        .hasMessageContaining("at_step 6").hasMessageContaining("generation 1, scheduled at step 10")
        .hasMessageContaining("choose at_step 10 or later");
    assertThat(refused("sgd(0.02)", 3, Status.Code.FAILED_PRECONDITION).getMessage())
        .as("the step to choose satisfies both rules").contains("fixed through step 4")
        .contains("choose at_step 10 or later");
  }

  @Test
  void anIncompatibleChangeIsRefused() {
    assertThat(refused("adam(1e-3)", 2, Status.Code.FAILED_PRECONDITION))
        .hasMessageContaining("pipeline: ").hasMessageContaining("base rule").hasMessageContaining("sgd -> adam");
    assertThat(refused("sgd(0.1).accumulate(2)", 2, Status.Code.FAILED_PRECONDITION))
        .hasMessageContaining("accumulate cannot change mid-run (1 -> 2)");

    GenerationSchedule adam = new GenerationSchedule("models/a", Pipeline.parse("adam(1e-3)"), List.of("w"));
    ApiException e = catchThrowableOfType(() -> adam.append(Pipeline.parse("adam(1e-3).amsgrad()"), 1), ApiException.class);
    assertThat(e.code()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(e).hasMessageContaining("optimizer state");
    assertThat(adam.toProto().getGenerationsCount()).isEqualTo(1);
  }

  @Test
  void aPipelineWithoutSettingsForATensorIsInvalidArgument() {
    assertThat(refused("sgd(0.1).lrScale(\"enc.*\", 0.5).lrScale(\"*.weight\", 2)", 1, Status.Code.INVALID_ARGUMENT))
        .hasMessageContaining("pipeline: ").hasMessageContaining("enc.weight").hasMessageContaining("lrScale");
  }
}
