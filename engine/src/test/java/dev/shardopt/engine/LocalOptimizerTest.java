package dev.shardopt.engine;

import static dev.shardopt.dsl.Optimizers.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.shardopt.dsl.Pipeline;
import dev.shardopt.engine.kernel.ParallelApply;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Expected values are derived by hand from the stage formulas (comments show the arithmetic). */
class LocalOptimizerTest {
  private static ExecutorService pool;

  @BeforeAll
  static void start() {
    pool = Executors.newFixedThreadPool(2);
  }

  @AfterAll
  static void stop() {
    pool.shutdownNow();
  }

  /** The optimizer under test; {@link LocalOptimizerOffHeapTest} puts it on a device's path. */
  LocalOptimizer optimizer(Pipeline p, Map<TensorShape, float[]> init, int trainers, ParallelApply parallel) {
    return new LocalOptimizer(p, init, trainers, parallel);
  }

  private LocalOptimizer model(Pipeline p, int trainers, Object... nameValues) {
    Map<TensorShape, float[]> init = new LinkedHashMap<>();
    for (int i = 0; i < nameValues.length; i += 2) {
      float[] v = (float[]) nameValues[i + 1];
      init.put(new TensorShape((String) nameValues[i], new long[] {v.length}), v);
    }
    return optimizer(p, init, trainers, new ParallelApply(pool, 1));
  }

  private static Map<String, float[]> grad(Object... nameValues) {
    Map<String, float[]> g = new LinkedHashMap<>();
    for (int i = 0; i < nameValues.length; i += 2) {
      g.put((String) nameValues[i], (float[]) nameValues[i + 1]);
    }
    return g;
  }

  private static float[] f(float... v) {
    return v;
  }

  @Test
  void theStepGradientIsTheTrainerMean() {
    LocalOptimizer m = model(sgd(0.1), 2, "w", f(1, 2));
    // mean of [1, 3] and [3, 5] is [2, 4]; theta -= 0.1 g
    m.push(List.of(grad("w", f(1, 3)), grad("w", f(3, 5))));
    assertThat(m.parameter("w")).containsExactly(0.8f, 1.6f);
  }

  @Test
  void accumulateUpdatesOnTheLastPushOfAWindowWithTheWindowMean() {
    LocalOptimizer m = model(sgd(1.0).accumulate(2), 1, "w", f(0));
    assertThat(m.push(List.of(grad("w", f(1)))).outcome()).isEqualTo(StepResult.Outcome.ACCUMULATED);
    assertThat(m.parameter("w")).containsExactly(0f);
    assertThat(m.updatesApplied()).isZero();
    // (1 + 3) / 2 = 2
    assertThat(m.push(List.of(grad("w", f(3)))).outcome()).isEqualTo(StepResult.Outcome.APPLIED);
    assertThat(m.parameter("w")).containsExactly(-2f);
    assertThat(m.updatesApplied()).isEqualTo(1);
    m.push(List.of(grad("w", f(5))));
    assertThat(m.parameter("w")).containsExactly(-2f);
  }

  @Test
  void skipNonFiniteSkipsTheWholeStepAndKeepsT() {
    LocalOptimizer m = model(sgd(1.0).skipNonFinite(), 2, "a", f(1), "b", f(1));
    // trainer 1 sends NaN for b: the mean is NaN, so a does not move either
    StepResult r = m.push(List.of(grad("a", f(1), "b", f(1)), grad("a", f(1), "b", f(Float.NaN))));
    assertThat(r.outcome()).isEqualTo(StepResult.Outcome.SKIPPED_NON_FINITE);
    assertThat(m.parameter("a")).containsExactly(1f);
    assertThat(m.updatesApplied()).isZero();
    assertThat(m.stepsSkipped()).isEqualTo(1);
    m.push(List.of(grad("a", f(1), "b", f(1)), grad("a", f(3), "b", f(1))));
    assertThat(m.parameter("a")).containsExactly(-1f);
    assertThat(m.updatesApplied()).isEqualTo(1);
  }

  @Test
  void aSkippedStepConsumesItsWindow() {
    LocalOptimizer m = model(sgd(1.0).accumulate(2).skipNonFinite(), 1, "w", f(0));
    m.push(List.of(grad("w", f(Float.POSITIVE_INFINITY))));
    assertThat(m.push(List.of(grad("w", f(1)))).outcome()).isEqualTo(StepResult.Outcome.SKIPPED_NON_FINITE);
    m.push(List.of(grad("w", f(2))));
    m.push(List.of(grad("w", f(4))));
    assertThat(m.parameter("w")).containsExactly(-3f);
  }

  @Test
  void withoutSkipNonFiniteThePushIsRefusedAndNothingChanges() {
    LocalOptimizer m = model(adam(0.1).accumulate(2), 2, "w", f(1, 1, 1));
    m.push(List.of(grad("w", f(1, 1, 1)), grad("w", f(1, 1, 1))));
    assertThatThrownBy(() -> m.push(List.of(grad("w", f(1, 1, 1)), grad("w", f(1, 1, Float.NaN)))))
        .isInstanceOf(InvalidGradientException.class)
        .hasMessage("trainer 1: the gradient of 'w' is NaN at index 2; nothing was applied"
            + " (add .skipNonFinite() to skip such steps)");
    assertThat(m.parameter("w")).containsExactly(1f, 1f, 1f);
    assertThat(m.state("w").get("exp_avg")).containsOnly(0f);
    // The window still holds its first push: mean of 1 and 3 is 2, and Adam's first step moves by lr
    m.push(List.of(grad("w", f(3, 3, 3)), grad("w", f(3, 3, 3))));
    assertThat(m.updatesApplied()).isEqualTo(1);
    assertThat(m.parameter("w")[0]).isCloseTo(0.9f, within(1e-6f));
  }

  @Test
  void clipNormSpansEveryNonFrozenTensor() {
    LocalOptimizer m = model(sgd(1.0).clipNorm(1.0).freeze("c"), 1, "a", f(0), "b", f(0), "c", f(7));
    // total = sqrt(3^2 + 4^2) = 5, c's 100 left out; coef = 1/(5 + 1e-6)
    StepResult r = m.push(List.of(grad("a", f(3), "b", f(4), "c", f(100))));
    assertThat(r.gradientNorm()).isEqualTo(5.0);
    assertThat(r.clipScale()).isEqualTo((float) (1 / (5 + 1e-6)));
    assertThat(m.parameter("a")[0]).isCloseTo(-0.6f, within(1e-6f));
    assertThat(m.parameter("b")[0]).isCloseTo(-0.8f, within(1e-6f));
    assertThat(m.parameter("c")).containsExactly(7f);
    // a frozen tensor's gradient may be left out
    m.push(List.of(grad("a", f(0), "b", f(0))));
    assertThat(m.parameter("c")).containsExactly(7f);
  }

  @Test
  void clipValueComesBeforeClipNorm() {
    LocalOptimizer m = model(sgd(1.0).clipValue(3).clipNorm(100), 1, "a", f(0, 0));
    // clamp(4) = 3, clamp(-5) = -3; norm sqrt(18) < 100, so no scaling
    StepResult r = m.push(List.of(grad("a", f(4, -5))));
    assertThat(r.gradientNorm()).isCloseTo(Math.sqrt(18), within(1e-12));
    assertThat(m.parameter("a")).containsExactly(-3f, 3f);
  }

  @Test
  void noDecayAndLrScaleSelectParametersByName() {
    LocalOptimizer m = model(sgd(0.1).weightDecay(0.5).noDecay("*.bias").lrScale("head.*", 0.5), 1,
        "body.weight", f(2), "body.bias", f(2), "head.weight", f(2));
    m.push(List.of(grad("body.weight", f(0), "body.bias", f(0), "head.weight", f(0))));
    // body.weight: g = 0 + 0.5*2 = 1, theta = 2 - 0.1*1; body.bias: no decay; head.weight: lr 0.05
    assertThat(m.parameter("body.weight")).containsExactly(1.9f);
    assertThat(m.parameter("body.bias")).containsExactly(2f);
    assertThat(m.parameter("head.weight")).containsExactly(1.95f);
  }

  @Test
  void lrScaleAlsoScalesDecoupledDecay() {
    LocalOptimizer m = model(adamw(0.1).weightDecay(0.5).lrScale("a", 0.5), 1, "a", f(1), "b", f(1));
    // zero gradient: Adam's step is 0, only theta *= 1 - lr*scale*wd remains
    m.push(List.of(grad("a", f(0), "b", f(0))));
    assertThat(m.parameter("a")).containsExactly((float) (1 - 0.1 * 0.5 * 0.5));
    assertThat(m.parameter("b")).containsExactly((float) (1 - 0.1 * 0.5));
  }

  @Test
  void warmupFirstUpdateUsesLrZeroButCounts() {
    LocalOptimizer m = model(adam(0.1).warmup(2), 1, "w", f(1));
    StepResult first = m.push(List.of(grad("w", f(1))));
    assertThat(first.learningRate()).isZero();
    assertThat(m.parameter("w")).containsExactly(1f);
    assertThat(m.updatesApplied()).isEqualTo(1);
    m.push(List.of(grad("w", f(1))));
    // k = 2: m = 0.19, v = 0.001999; mhat = 0.19/0.19 = 1, vhat = 1; lr_1 = 0.05
    assertThat(m.parameter("w")[0]).isCloseTo(0.95f, within(1e-6f));
  }

  @Test
  void badPushesNameTheProblemAndChangeNothing() {
    LocalOptimizer m = model(sgd(1.0), 1, "w", f(1, 2), "b", f(3));
    assertThatThrownBy(() -> m.push(List.of(grad("w", f(1, 1)))))
        .hasMessage("no gradient for 'b'");
    assertThatThrownBy(() -> m.push(List.of(grad("w", f(1, 1), "b", f(1), "x", f(1)))))
        .hasMessage("unknown tensor 'x'; the model has w, b");
    assertThatThrownBy(() -> m.push(List.of(grad("w", f(1), "b", f(1)))))
        .hasMessage("the gradient of 'w' has 1 values, expected 2 for shape [2]");
    assertThatThrownBy(() -> m.push(List.of(grad("w", f(1, 1), "b", f(1)), grad("w", f(1, 1), "b", f(1)))))
        .hasMessage("a push needs one gradient per trainer: expected 1, got 2");
    assertThat(m.parameter("w")).containsExactly(1f, 2f);
    assertThat(m.updatesApplied()).isZero();
  }

  @Test
  void twoLrScaleGlobsOnOneTensorFailAtModelCreation() {
    assertThatThrownBy(() -> model(sgd().lrScale("head.*", 0.1).lrScale("*.weight", 2), 1, "head.weight", f(1)))
        .hasMessageContaining("parameter 'head.weight' matches two lrScale globs");
  }

  @Test
  void setPipelineMidWindowCountsATensorOnlyInThePushesWhereItWasActive() {
    Pipeline frozen = sgd(1.0).accumulate(2).freeze("b");
    Pipeline all = sgd(1.0).accumulate(2);
    LocalOptimizer m = model(frozen, 1, "a", f(0), "b", f(0));
    m.push(List.of(grad("a", f(2))));
    m.setPipeline(all); // b becomes active on the window's last push
    assertThat(m.push(List.of(grad("a", f(4), "b", f(6)))).outcome()).isEqualTo(StepResult.Outcome.APPLIED);
    // a: (2 + 4) / 2 = 3; b: 6 / 2 = 3
    assertThat(m.parameter("a")).containsExactly(-3f);
    assertThat(m.parameter("b")).containsExactly(-3f);
    m.push(List.of(grad("a", f(0), "b", f(2))));
    m.setPipeline(frozen); // b frozen on the window's last push: it keeps its value
    m.push(List.of(grad("a", f(0))));
    assertThat(m.parameter("b")).containsExactly(-3f);
    m.push(List.of(grad("a", f(0)))); // the next window starts with b still frozen
    m.setPipeline(all);
    // b's 2 from the window before is not reused: 8 / 2 = 4
    m.push(List.of(grad("a", f(0), "b", f(8))));
    assertThat(m.parameter("b")).containsExactly(-7f);
  }

  @Test
  void resultsAreBitwiseIdenticalForAnyThreadCountAndChunking() {
    int n = 100_000;
    Random rnd = new Random(7);
    float[] init = new float[n];
    for (int i = 0; i < n; i++) {
      init[i] = (float) rnd.nextGaussian();
    }
    float[][] grads = new float[5][n];
    for (float[] g : grads) {
      for (int i = 0; i < n; i++) {
        g[i] = (float) rnd.nextGaussian();
      }
    }
    Pipeline p = adam(1e-2).clipNorm(50.0).weightDecay(1e-3);
    float[] reference = null;
    for (int[] config : new int[][] {{1, 0}, {2, 1}, {2, 3}, {3, 2}}) {
      Map<TensorShape, float[]> model = Map.of(new TensorShape("w", new long[] {n}), init);
      LocalOptimizer m = optimizer(p, model, 1, new ParallelApply(pool, config[0], config[1]));
      for (float[] g : grads) {
        m.push(List.of(Map.of("w", g)));
      }
      if (reference == null) {
        reference = m.parameter("w");
      } else {
        assertThat(m.parameter("w")).as("threads %d, chunk %d blocks", config[0], config[1]).isEqualTo(reference);
      }
    }
  }
}
