package dev.shardopt.dsl;

import static dev.shardopt.dsl.Optimizers.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

/** Expected values are worked out by hand from the formulas in the class javadoc. */
class LearningRateScheduleTest {
  private static final org.assertj.core.data.Offset<Double> EXACT = within(1e-15);

  @Test
  void constantWithoutSchedule() {
    assertThat(sgd(0.1).learningRate(0)).isEqualTo(0.1);
    assertThat(sgd(0.1).learningRate(1_000_000)).isEqualTo(0.1);
  }

  @Test
  void warmupIsLinearFromZeroAndTheFirstUpdateUsesZero() {
    Pipeline p = adam(0.01).warmup(10);
    assertThat(p.learningRate(0)).isEqualTo(0.0);
    assertThat(p.learningRate(5)).isCloseTo(0.005, EXACT);
    assertThat(p.learningRate(9)).isCloseTo(0.009, EXACT);
    assertThat(p.learningRate(10)).isEqualTo(0.01);
    assertThat(p.learningRate(1000)).isEqualTo(0.01);
  }

  @Test
  void cosineReachesMinLrAndStaysThere() {
    Pipeline p = sgd(0.01).cosine(30, 1e-4);
    assertThat(p.learningRate(0)).isCloseTo(0.01, EXACT);
    // p = 15/30 = 0.5: minLr + (lr - minLr)(1 + cos(pi/2))/2 = 1e-4 + 0.0099/2
    assertThat(p.learningRate(15)).isCloseTo(0.00505, EXACT);
    assertThat(p.learningRate(30)).isCloseTo(1e-4, EXACT);
    assertThat(p.learningRate(40)).isCloseTo(1e-4, EXACT);
  }

  @Test
  void cosineTotalCountsTheWarmup() {
    Pipeline p = sgd(1.0).warmup(10).cosine(110);
    assertThat(p.learningRate(5)).isCloseTo(0.5, EXACT);
    assertThat(p.learningRate(10)).isCloseTo(1.0, EXACT);
    // tau = 50 of T - W = 100: half way, (1 + cos(pi/2))/2 = 0.5
    assertThat(p.learningRate(60)).isCloseTo(0.5, EXACT);
    assertThat(p.learningRate(110)).isCloseTo(0.0, EXACT);
  }

  @Test
  void stepDecayMultipliesByGammaEveryInterval() {
    Pipeline p = momentum(0.005).stepDecay(10, 0.5);
    assertThat(p.learningRate(9)).isCloseTo(0.005, EXACT);
    assertThat(p.learningRate(10)).isCloseTo(0.0025, EXACT);
    assertThat(p.learningRate(25)).isCloseTo(0.00125, EXACT);
    assertThat(sgd(1.0).stepDecay(3).learningRate(6)).isCloseTo(0.01, EXACT);
    // after warmup, tau counts from the end of warmup
    assertThat(sgd(1.0).warmup(4).stepDecay(3).learningRate(6)).isCloseTo(1.0, EXACT);
    assertThat(sgd(1.0).warmup(4).stepDecay(3).learningRate(7)).isCloseTo(0.1, EXACT);
  }

  @Test
  void exponentialDecay() {
    Pipeline p = rmsprop(0.003).exponentialDecay(0.95);
    assertThat(p.learningRate(0)).isCloseTo(0.003, EXACT);
    assertThat(p.learningRate(2)).isCloseTo(0.003 * 0.9025, EXACT);
  }

  @Test
  void cosineRestartsFollowTorchStepArithmetic() {
    Pipeline p = adamw(0.01).cosineRestarts(8, 2, 1e-4);
    assertThat(p.learningRate(0)).isCloseTo(0.01, EXACT);
    assertThat(p.learningRate(4)).isCloseTo(1e-4 + 0.0099 / 2, EXACT);
    assertThat(p.learningRate(8)).as("first restart").isCloseTo(0.01, EXACT);
    assertThat(p.learningRate(16)).as("half of the 16-step cycle").isCloseTo(1e-4 + 0.0099 / 2, EXACT);
    assertThat(p.learningRate(23))
        .isCloseTo(1e-4 + 0.0099 * (1 + Math.cos(Math.PI * 15 / 16)) / 2, EXACT);
    assertThat(p.learningRate(24)).as("second restart").isCloseTo(0.01, EXACT);
    Pipeline constantPeriod = sgd(1.0).cosineRestarts(5);
    assertThat(constantPeriod.learningRate(12)).isEqualTo(constantPeriod.learningRate(2));
    assertThat(constantPeriod.learningRate(5)).isEqualTo(1.0);
  }
}
