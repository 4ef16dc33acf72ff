package dev.shardopt.engine;

import static dev.shardopt.dsl.Optimizers.sgd;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.shardopt.dsl.Pipeline;
import dev.shardopt.engine.device.CpuBackend;
import dev.shardopt.engine.device.DeviceBackend;
import dev.shardopt.engine.kernel.ParallelApply;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Accumulation windows across freeze changes: a tensor's window mean is the sum of its trainer-mean
 * gradients over the window's pushes in which it was active, divided by k. Expected values are
 * worked out by hand in the comments. {@link ShardGroupOffHeapTest} runs them on a device's path.
 */
class ShardGroupTest {
  static ExecutorService pool;

  @BeforeAll
  static void start() {
    pool = Executors.newFixedThreadPool(2);
  }

  @AfterAll
  static void stop() {
    pool.shutdownNow();
  }

  /** The backend the groups live in. */
  DeviceBackend device(ParallelApply parallel) {
    return new CpuBackend(parallel);
  }

  /** Tensors a[1] and b[1], both 0, with K trainers. */
  private ShardGroup group(Pipeline p, int trainers) {
    List<ShardSpec> shards = List.of(
        ShardSpec.whole(0, new TensorShape("a", new long[] {1})),
        ShardSpec.whole(1, new TensorShape("b", new long[] {1})));
    ParallelApply parallel = new ParallelApply(pool, 1);
    return new ShardGroup(p, shards, List.of(new float[] {0}, new float[] {0}), trainers, device(parallel), parallel);
  }

  /** One push of K trainers (b null = left out), decided locally when it completes a window. */
  private static void push(ShardGroup g, float[] a, float[] b) {
    List<float[][]> byTrainer = new java.util.ArrayList<>();
    for (int r = 0; r < a.length; r++) {
      float[][] grad = {new float[] {a[r]}, b == null ? null : new float[] {b[r]}};
      g.validate(g.pipeline(), r, grad);
      byTrainer.add(grad);
    }
    ShardGroup.PreparedStep s = g.prepare(byTrainer);
    if (s != null) {
      g.apply(s, StepDecider.decide(g.pipeline(), g.updatesApplied(), g.statistics(s), List.of("a", "b")));
    }
  }

  private static float[] v(float... x) {
    return x;
  }

  @Test
  void theStatisticsAreTheSameWhetherPrepareComputesThemOrStatisticsDoes() {
    // 2 trainers, a window of 2, clipValue 3. Push 1: a = (1, 3), b = (2, 4), means 2 and 3;
    // push 2: a = (5, 7), b = (0, 2), means 6 and 1. Window means: a = (2 + 6) / 2 = 4, clamped to
    // 3, squared 9; b = (3 + 1) / 2 = 2, squared 4.
    Pipeline p = sgd(0.1).clipValue(3).accumulate(2);
    for (boolean fused : new boolean[] {true, false}) {
      ShardGroup g = group(p, 2);
      float[][][] pushes = {
        {{1}, {2}}, {{3}, {4}}, // push 1: trainer 0, trainer 1 (a, b)
        {{5}, {0}}, {{7}, {2}}, // push 2
      };
      assertThat(g.prepare(List.of(pushes[0], pushes[1]), fused)).isNull(); // only fills the window
      ShardGroup.PreparedStep step = g.prepare(List.of(pushes[2], pushes[3]), fused);
      List<BlockStatistics> stats = g.statistics(step);
      assertThat(stats).hasSize(2);
      assertThat(stats.get(0).blockSums()).as("fused=%s", fused).containsExactly(9.0);
      assertThat(stats.get(1).blockSums()).as("fused=%s", fused).containsExactly(4.0);
      assertThat(stats.get(0).firstNonFinite()).isEqualTo(-1);
    }
  }

  @Test
  void aRestoreWritesEveryArrayInRangesThenContinuesFromItsCounters() {
    // momentum(lr 1, mu 0.5), PyTorch's rule: buf = mu * buf + g, p -= lr * buf
    Pipeline p = dev.shardopt.dsl.Optimizers.momentum(1.0).beta(0.5);
    ParallelApply parallel = new ParallelApply(pool, 1);
    ShardGroup g = new ShardGroup(p, List.of(ShardSpec.whole(0, new TensorShape("a", new long[] {3}))), null, 1,
        device(parallel), parallel);
    float[] none = new float[3];
    g.read(0, ShardGroup.PARAMETERS, 0, none, 0, 3);
    assertThat(none).containsExactly(0f, 0f, 0f); // null initial values: zeros, until written
    g.write(0, ShardGroup.PARAMETERS, 0, v(9, 1, 2), 1, 2); // elements 0, 1 from src[1..2]
    g.write(0, ShardGroup.PARAMETERS, 2, v(3), 0, 1);
    g.write(0, 0, 0, v(2, 4, -2), 0, 3); // the momentum buffer
    g.restore(5, 2);
    assertThat(g.updatesApplied()).isEqualTo(5);
    assertThat(g.stepsSkipped()).isEqualTo(2);

    float[] g1 = {1, 0, 2};
    g.validate(g.pipeline(), 0, new float[][] {g1});
    ShardGroup.PreparedStep s = g.prepare(List.<float[][]>of(new float[][] {g1}));
    g.apply(s, StepDecider.decide(g.pipeline(), g.updatesApplied(), g.statistics(s), List.of("a")));
    // buf = 0.5 * (2, 4, -2) + (1, 0, 2) = (2, 2, 1); p = (1, 2, 3) - buf = (-1, 0, 2)
    float[] out = new float[4];
    g.read(0, ShardGroup.PARAMETERS, 0, out, 1, 3);
    assertThat(out).containsExactly(0f, -1f, 0f, 2f);
    g.read(0, 0, 1, out, 0, 2);
    assertThat(out[0]).isEqualTo(2f);
    assertThat(out[1]).isEqualTo(1f);
    assertThat(g.updatesApplied()).isEqualTo(6);

    assertThatThrownBy(() -> g.read(0, 1, 0, out, 0, 1)).isInstanceOf(IndexOutOfBoundsException.class);
    assertThatThrownBy(() -> g.write(0, ShardGroup.PARAMETERS, 2, v(1, 2), 0, 2))
        .isInstanceOf(IndexOutOfBoundsException.class);
  }

  @Test
  void aStateNeverCreatedReadsAsTheKernelsInitialState() {
    Pipeline p = dev.shardopt.dsl.Optimizers.adagrad(0.1).initialAccumulator(0.25).freeze("a");
    ShardGroup g = group(p, 1);
    float[] out = {7, 7, 7};
    g.read(0, 0, 0, out, 1, 1);
    assertThat(out).containsExactly(7f, 0.25f, 7f);
  }

  @Test
  void aTensorUnfrozenOnTheLastPushOfItsFirstWindowGetsThatPushOverK() {
    Pipeline frozen = sgd(1.0).accumulate(3).freeze("b");
    ShardGroup g = group(frozen, 2);
    push(g, v(1, 1), null);
    push(g, v(2, 2), null);
    g.setPipeline(sgd(1.0).accumulate(3));
    // a: (1 + 2 + 3) / 3 = 2; b active only in the last push: trainer mean (5 + 7) / 2 = 6, 6 / 3 = 2
    push(g, v(3, 3), v(5, 7));
    assertThat(g.parameters(0)).containsExactly(-2f);
    assertThat(g.parameters(1)).containsExactly(-2f);
    assertThat(g.updatesApplied()).isEqualTo(1);
  }

  @Test
  void aSumFromAnEarlierWindowIsNeverReused() {
    Pipeline all = sgd(1.0).accumulate(3);
    Pipeline frozen = all.freeze("b");
    ShardGroup g = group(all, 1);
    push(g, v(1), v(3));
    push(g, v(2), v(3));
    push(g, v(3), v(3)); // a -= 2, b -= 3
    g.setPipeline(frozen);
    push(g, v(3), null);
    push(g, v(3), null);
    g.setPipeline(all);
    // b was active only in the window's last push: 9 / 3 = 3 (not (3 + 3 + 9) / 3 from the old window)
    push(g, v(3), v(9));
    assertThat(g.parameters(0)).containsExactly(-5f);
    assertThat(g.parameters(1)).containsExactly(-6f);
  }

  @Test
  void aTensorFrozenMidWindowKeepsItsValueAndItsPartialSumIsDropped() {
    Pipeline all = sgd(1.0).accumulate(2);
    Pipeline frozen = all.freeze("b");
    ShardGroup g = group(all, 1);
    push(g, v(1), v(100));
    g.setPipeline(frozen);
    push(g, v(3), null); // a: (1 + 3) / 2 = 2; b frozen at the window's end: not updated
    assertThat(g.parameters(0)).containsExactly(-2f);
    assertThat(g.parameters(1)).containsExactly(0f);
    g.setPipeline(all);
    push(g, v(0), v(2));
    push(g, v(0), v(4)); // b: (2 + 4) / 2 = 3, nothing of the 100
    assertThat(g.parameters(1)).containsExactly(-3f);
  }

  @Test
  void toggledWithinOneWindowSumsThePushesWhereItWasActive() {
    Pipeline all = sgd(1.0).accumulate(4);
    Pipeline frozen = all.freeze("b");
    ShardGroup g = group(all, 1);
    push(g, v(0), v(4));
    g.setPipeline(frozen);
    push(g, v(0), null);
    g.setPipeline(all);
    push(g, v(0), v(8));
    push(g, v(0), v(12)); // b: (4 + 8 + 12) / 4 = 6
    assertThat(g.parameters(1)).containsExactly(-6f);
  }

  @Test
  void validationFollowsTheGivenPipelineNotTheGroups() {
    ShardGroup g = group(sgd(1.0), 1);
    float[][] leftOut = {new float[] {1}, null};
    g.validate(sgd(1.0).freeze("b"), 0, leftOut);
    assertThatThrownBy(() -> g.validate(sgd(1.0), 0, leftOut))
        .isInstanceOf(InvalidGradientException.class)
        .hasMessage("no gradient for 'b'");
    float[][] nan = {new float[] {Float.NaN}, new float[] {1}};
    g.validate(sgd(1.0).skipNonFinite(), 0, nan);
    assertThatThrownBy(() -> g.validate(sgd(1.0), 0, nan))
        .hasMessage("the gradient of 'a' is NaN at index 0; nothing was applied (add .skipNonFinite() to skip such steps)");
  }
}
