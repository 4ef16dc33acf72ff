package dev.shardopt.client;

import static dev.shardopt.dsl.Optimizers.sgd;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.shardopt.dsl.Pipeline;
import dev.shardopt.v1.Model;
import dev.shardopt.v1.PipelineGeneration;
import io.grpc.Status;
import java.util.ArrayDeque;
import java.util.Deque;
import org.junit.jupiter.api.Test;

class TrainerScheduleTest {

  private static PipelineGeneration generation(long generation, long fromStep, double clipValue) {
    return PipelineGeneration.newBuilder().setGeneration(generation).setFromStep(fromStep)
        .setPipeline(sgd(0.1).clipValue(clipValue).toProto()).build();
  }

  private static Model model(PipelineGeneration... schedule) {
    Model.Builder m = Model.newBuilder().setName("models/m");
    for (PipelineGeneration g : schedule) {
      m.addPipelineSchedule(g);
    }
    return m.build();
  }

  private static double clipAt(TrainerSchedule s, long step) {
    return s.at(step).pipeline().clipValueLimit().getAsDouble();
  }

  @Test
  void theHighestGenerationStartingAtOrBeforeTheStepIsInForce() {
    // Sent out of order; generations 2 and 3 both start at step 8: the higher one wins.
    TrainerSchedule s = new TrainerSchedule(model(generation(3, 8, 0.125), generation(0, 0, 1.0),
        generation(2, 8, 0.25), generation(1, 4, 0.5)), () -> { throw new AssertionError(); });

    assertThat(s.at(0).generation()).isZero();
    assertThat(s.at(3).generation()).isZero();
    assertThat(s.at(4).generation()).isEqualTo(1);
    assertThat(clipAt(s, 7)).isEqualTo(0.5);
    assertThat(s.at(8).generation()).isEqualTo(3);
    assertThat(clipAt(s, 1_000_000)).isEqualTo(0.125);
    assertThat(s.latest().generation()).isEqualTo(3);
    assertThat(s.describe()).isEqualTo("generation 0 from step 0, generation 1 from step 4, "
        + "generation 2 from step 8, generation 3 from step 8");
  }

  @Test
  void refreshReadsTheModelAgainAndNeverGoesBackToFewerGenerations() {
    Deque<Model> answers = new ArrayDeque<>();
    answers.add(model(generation(0, 0, 1.0), generation(1, 5, 0.5)));
    answers.add(model(generation(0, 0, 1.0))); // e.g. an answer that was overtaken
    TrainerSchedule s = new TrainerSchedule(model(generation(0, 0, 1.0)), answers::remove);
    assertThat(clipAt(s, 6)).isEqualTo(1.0);

    assertThat(clipAt(s.refresh(), 6)).isEqualTo(0.5);
    assertThat(clipAt(s.refresh(), 6)).isEqualTo(0.5);
    assertThat(answers).isEmpty();

    s.update(model(generation(0, 0, 1.0), generation(1, 5, 0.5), generation(2, 9, 0.25)));
    assertThat(clipAt(s, 9)).isEqualTo(0.25);
  }

  @Test
  void aModelWithoutScheduleOrWithoutAGenerationAtAStepIsAnError() {
    assertThatThrownBy(() -> new TrainerSchedule(model(), () -> null))
        .isInstanceOf(ShardoptException.class)
        .hasMessage("the coordinator's answer for models/m has no pipeline_schedule; it holds "
            + "generation 0 (the creation pipeline) at least")
        .satisfies(e -> assertThat(((ShardoptException) e).code()).isEqualTo(Status.Code.INTERNAL));

    TrainerSchedule late = new TrainerSchedule(model(generation(0, 3, 1.0)), () -> null);
    assertThatThrownBy(() -> late.at(2))
        .hasMessage("the pipeline schedule of models/m has no generation in force at step 2: "
            + "generation 0 from step 3");
    Pipeline p = late.at(3).pipeline();
    assertThat(p.clipValueLimit()).hasValue(1.0);
  }
}
