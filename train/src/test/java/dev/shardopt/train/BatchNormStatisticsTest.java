package dev.shardopt.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class BatchNormStatisticsTest {

  @Test
  void startsAtZeroAndOneAndFollowsPyTorchsUpdate() {
    BatchNormStatistics s = new BatchNormStatistics(2);
    assertThat(s.mean()).containsExactly(0, 0);
    assertThat(s.variance()).containsExactly(1, 1);
    s.update(new double[] {1, -2}, new double[] {0.5, 4}, 5);
    // running = 0.9·running + 0.1·batch; variance unbiased: ·5/4
    assertThat(s.mean()[0]).isCloseTo(0.1, within(1e-12));
    assertThat(s.mean()[1]).isCloseTo(-0.2, within(1e-12));
    assertThat(s.variance()[0]).isCloseTo(0.9 + 0.1 * 0.5 * 1.25, within(1e-12));
    assertThat(s.variance()[1]).isCloseTo(0.9 + 0.1 * 4 * 1.25, within(1e-12));
    assertThat(s.updates()).isEqualTo(1);
  }

  @Test
  void convergesToAConstantBatchsStatistics() {
    BatchNormStatistics s = new BatchNormStatistics(1);
    for (int i = 0; i < 300; i++) {
      s.update(new double[] {3}, new double[] {2}, 2);
    }
    assertThat(s.mean()[0]).isCloseTo(3, within(1e-9));
    assertThat(s.variance()[0]).isCloseTo(4, within(1e-9)); // 2·2/1
    BatchNormStatistics c = s.copy();
    s.update(new double[] {0}, new double[] {0}, 2);
    assertThat(c.mean()[0]).isCloseTo(3, within(1e-9));
  }
}
