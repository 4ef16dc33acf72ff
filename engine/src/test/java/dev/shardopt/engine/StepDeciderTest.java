package dev.shardopt.engine;

import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.dsl.Pipeline;
import java.util.List;
import org.junit.jupiter.api.Test;

class StepDeciderTest {

  @Test
  void sumOfSquaresAddsBlocksInBlockOrderThenTensorsInModelOrderWhateverTheArrivalOrder() {
    // In double, 1e16 + 1 = 1e16: tensor 1's blocks in block order sum to exactly 0, tensor 0's to 3,
    // and the tensors' sums in model order give 3 (any order that adds the 1 elsewhere does not).
    BlockStatistics t1b0 = new BlockStatistics(1, 0, new double[] {1e16, 1}, -1);
    BlockStatistics t1b2 = new BlockStatistics(1, 2, new double[] {-1e16}, -1);
    BlockStatistics t0 = new BlockStatistics(0, 0, new double[] {1, 2}, -1);
    assertThat(StepDecider.sumOfSquares(List.of(t1b2, t0, t1b0))).isEqualTo(3.0);
    assertThat(StepDecider.sumOfSquares(List.of(t1b0, t1b2, t0))).isEqualTo(3.0);
    assertThat(StepDecider.sumOfSquares(List.of())).isEqualTo(0.0);
  }

  @Test
  void theDecisionsNormIsTheRootOfTheSumOfSquaresAndClipNormScalesToItsLimit() {
    List<BlockStatistics> stats = List.of(new BlockStatistics(0, 0, new double[] {9, 16}, -1));
    UpdateDecision d = StepDecider.decide(Pipeline.parse("sgd(0.5).clipNorm(1.0)"), 0, stats, List.of("w"));
    assertThat(d.applies()).isTrue();
    assertThat(d.gradientNorm()).isEqualTo(5.0);
    assertThat(d.learningRate()).isEqualTo(0.5);
    assertThat(d.clipScale()).isEqualTo((float) (1.0 / (5.0 + 1e-6)));
  }

  @Test
  void aNonFiniteBlockSkipsTheStepNamingTheFirstTensorInModelOrder() {
    List<BlockStatistics> stats = List.of(
        new BlockStatistics(1, 0, new double[0], 12),
        new BlockStatistics(0, 1, new double[0], 8195));
    UpdateDecision d = StepDecider.decide(Pipeline.parse("sgd(0.5).skipNonFinite()"), 4, stats, List.of("a", "b"));
    assertThat(d.applies()).isFalse();
    assertThat(d.update()).isEqualTo(4);
    assertThat(d.nonFinite()).isEqualTo("the gradient of 'a' is not finite at index 8195");
  }
}
