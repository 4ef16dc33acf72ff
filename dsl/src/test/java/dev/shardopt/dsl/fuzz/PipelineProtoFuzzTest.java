package dev.shardopt.dsl.fuzz;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.shardopt.dsl.InvalidPipelineException;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.v1.OptimizerPipeline;

/**
 * Fuzzes {@link Pipeline#fromProto} with structurally valid but adversarial
 * {@code OptimizerPipeline} messages: every rule and schedule, doubles that include NaN, the
 * infinities, -0 and subnormals, unsigned fields past the signed range, unknown enum numbers, many
 * parameter rules and arbitrary (unicode) globs. Invariants: either a pipeline or
 * {@link InvalidPipelineException}; an accepted pipeline keeps the values the message gave (no
 * silent clamping of an out-of-range field), its learning rate is finite and non-negative, and
 * its own proto form maps back to an equal pipeline.
 */
class PipelineProtoFuzzTest {

  @FuzzTest(maxDuration = "8s")
  void fromProto(FuzzedDataProvider data) {
    OptimizerPipeline m = AdversarialPipelines.message(data);
    Pipeline p;
    try {
      p = Pipeline.fromProto(m);
    } catch (InvalidPipelineException e) {
      assertThat(e.getMessage()).isNotBlank();
      return;
    }
    OptimizerPipeline back = p.toProto();
    if (m.getAccumulate() != 0) {
      assertThat(Integer.toUnsignedLong(back.getAccumulate()))
          .as("accumulate").isEqualTo(Integer.toUnsignedLong(m.getAccumulate()));
    }
    assertThat(back.getSchedule().getWarmupSteps()).as("warmup_steps")
        .isEqualTo(m.getSchedule().getWarmupSteps());
    if (m.getSchedule().hasCosineRestarts() && m.getSchedule().getCosineRestarts().getMult() != 0) {
      assertThat(back.getSchedule().getCosineRestarts().getMult()).as("mult")
          .isEqualTo(m.getSchedule().getCosineRestarts().getMult());
    }
    assertThat(back.getParameterRulesCount()).isEqualTo(m.getParameterRulesCount());
    for (long t : new long[] {0, 1, 7, 1000, 1L << 40}) {
      double lr = p.learningRate(t);
      assertThat(lr).as("learning rate at %d of %s", t, p).isFinite().isGreaterThanOrEqualTo(0.0);
    }
    assertThat(Pipeline.fromProto(back)).isEqualTo(p);
  }
}
