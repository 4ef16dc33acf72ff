package dev.shardopt.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.shardopt.client.StepMetric;
import dev.shardopt.dsl.Pipeline;
import java.util.List;
import org.junit.jupiter.api.Test;

class TrainingReportTest {

  static TrainingReport report(double[] losses, String pipeline, double seconds) {
    TrainingConfig c = TrainingConfig.defaults(Pipeline.parse(pipeline)).withSteps(losses.length);
    List<StepMetric> metrics = new java.util.ArrayList<>();
    for (int i = 0; i < losses.length; i++) {
      metrics.add(new StepMetric(i, i, false, 1e-3, 2 * losses[i], Math.min(1, 2 * losses[i]), 0.1));
    }
    return new TrainingReport(c, losses, new long[] {0, losses.length}, new double[] {0.1, 0.95}, metrics, 341, 359,
        seconds, 1.0, new TrainingReport.PhaseTimes(1, 2, 3, 0.5));
  }

  @Test
  void movingAverageIsTrailing() {
    assertThat(TrainingReport.movingAverage(new double[] {1, 2, 3, 4}, 2)).containsExactly(1, 1.5, 2.5, 3.5);
    assertThat(TrainingReport.movingAverage(new double[] {4, 2}, 5)).containsExactly(4, 3);
  }

  @Test
  void finalLossAndStepsToLossUseFullWindows() {
    double[] losses = new double[200];
    for (int i = 0; i < losses.length; i++) {
      losses[i] = i < 100 ? 1.0 : 0.01;
    }
    TrainingReport r = report(losses, "sgd(0.1)", 3);
    assertThat(r.finalLoss()).isCloseTo(0.01, within(1e-12));
    // the 50-step mean reaches <= 0.1 once at most 5 of its 50 steps are 1.0: after step 145
    assertThat(r.stepsToLoss(0.1)).hasValue(146);
    assertThat(r.stepsToLoss(0.001)).isEmpty();
    assertThat(r.accuracy()).isCloseTo(341 / 359.0, within(1e-12));
    // a short run's first steps do not count as a window
    assertThat(report(new double[] {0.01, 0.01}, "sgd(0.1)", 1).stepsToLoss(0.1)).isEmpty();
  }
}
