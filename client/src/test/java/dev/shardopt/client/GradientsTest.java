package dev.shardopt.client;

import static dev.shardopt.dsl.Optimizers.sgd;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.shardopt.dsl.Pipeline;
import dev.shardopt.engine.BlockStatistics;
import dev.shardopt.engine.ShardGroup;
import dev.shardopt.engine.ShardSpec;
import dev.shardopt.engine.StepDecider;
import dev.shardopt.engine.TensorShape;
import dev.shardopt.engine.UpdateDecision;
import dev.shardopt.engine.device.CpuBackend;
import dev.shardopt.engine.kernel.ParallelApply;
import dev.shardopt.engine.kernel.ReductionBlocks;
import dev.shardopt.v1.TensorSpec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class GradientsTest {

  @Test
  void acceptsEveryTensorWithItsLength() {
    Gradients.validate("m", Fixtures.tensors(), Fixtures.values(0));
  }

  @Test
  void namesTheTensorGotAndExpectedForAWrongLength() {
    Map<String, float[]> g = Fixtures.values(0);
    g.put("b", new float[99]);
    assertThatThrownBy(() -> Gradients.validate("m", Fixtures.tensors(), g))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("the gradient of tensor 'b' (shape [100], 100 elements) of model 'm' has 99 "
            + "elements, expected 100");
  }

  @Test
  void namesMissingAndUnknownTensors() {
    Map<String, float[]> missing = Fixtures.values(0);
    missing.remove("w");
    missing.remove("c");
    assertThatThrownBy(() -> Gradients.validate("m", Fixtures.tensors(), missing))
        .hasMessage("the gradient of model 'm' lacks tensors [w, c] (got none, expected 12288 "
            + "elements for 'w'); a push carries every tensor of the model, frozen ones included");

    Map<String, float[]> extra = Fixtures.values(0);
    extra.put("x", new float[1]);
    assertThatThrownBy(() -> Gradients.validate("m", Fixtures.tensors(), extra))
        .hasMessage("the gradient has tensor 'x', which model 'm' does not have; its tensors are [w, b, c]");

    Map<String, float[]> nullValue = new HashMap<>(Fixtures.values(0));
    nullValue.put("c", null);
    assertThatThrownBy(() -> Gradients.validate("m", Fixtures.tensors(), nullValue))
        .hasMessageContaining("lacks tensor [c]");
  }

  @Test
  void asyncNormIsTheClampedSumOfSquaresOverNonFrozenTensors() {
    List<TensorInfo> tensors = TensorInfo.of(List.of(
        TensorSpec.newBuilder().setName("enc.w").addShape(2).addShape(2).build(),
        TensorSpec.newBuilder().setName("emb").addShape(3).build(),
        TensorSpec.newBuilder().setName("enc.b").addShape(2).build()));
    Map<String, float[]> g = new LinkedHashMap<>();
    g.put("enc.w", new float[] {3f, -4f, 0.5f, -0.25f});
    g.put("emb", new float[] {100f, 100f, Float.NaN}); // frozen: counts nowhere, its NaN included
    g.put("enc.b", new float[] {-2.5f, 1f});
    Pipeline p = sgd(0.1).clipValue(2.0).freeze("emb");

    Gradients.Stats s = Gradients.stats(tensors, g, p);
    // clamp to [-2, 2]: 2, -2, 0.5, -0.25, -2, 1 -> 4 + 4 + 0.25 + 0.0625 + 4 + 1
    assertThat(s.normSquared()).isEqualTo(13.3125);
    assertThat(s.nonFinite()).isFalse();

    // Without clipValue the raw squares: 9 + 16 + 0.25 + 0.0625 + 6.25 + 1.
    assertThat(Gradients.stats(tensors, g, sgd(0.1).freeze("emb")).normSquared()).isEqualTo(32.5625);

    g.put("enc.b", new float[] {Float.POSITIVE_INFINITY, 1f});
    Gradients.Stats inf = Gradients.stats(tensors, g, p);
    assertThat(inf.nonFinite()).isTrue();
    assertThat(inf.normSquared()).isEqualTo(4 + 4 + 0.25 + 0.0625 + 4 + 1); // Inf clamps to 2
  }

  // ---------------------------------------------------------------- against the engine

  private static final int BLOCK = ReductionBlocks.BLOCK;
  private static ExecutorService pool;

  @BeforeAll
  static void startPool() {
    pool = Executors.newFixedThreadPool(2);
  }

  @AfterAll
  static void stopPool() {
    pool.shutdownNow();
  }

  /** Sizes at and around the block boundaries, where a wrong block split would show. */
  static IntStream sizesAroundBlocks() {
    return IntStream.of(1, BLOCK - 1, BLOCK, BLOCK + 1, 2 * BLOCK - 1, 2 * BLOCK, 2 * BLOCK + 1,
        3 * BLOCK + 5);
  }

  /** "big" of {@code n} elements, "frozen" (huge values and a NaN), "small"; in that model order. */
  private static List<TensorInfo> model(int n) {
    return TensorInfo.of(List.of(
        TensorSpec.newBuilder().setName("big").addShape(n).build(),
        TensorSpec.newBuilder().setName("frozen").addShape(100).build(),
        TensorSpec.newBuilder().setName("small").addShape(7).build()));
  }

  /** Values over many orders of magnitude, so that any other order of additions rounds otherwise. */
  private static Map<String, float[]> wideGradient(List<TensorInfo> tensors, long seed) {
    Random rnd = new Random(seed);
    Map<String, float[]> g = new LinkedHashMap<>();
    for (TensorInfo t : tensors) {
      float[] v = new float[t.elements()];
      for (int i = 0; i < v.length; i++) {
        v[i] = (float) (rnd.nextGaussian() * Math.exp(rnd.nextGaussian() * 4));
      }
      g.put(t.name(), v);
    }
    g.get("frozen")[0] = Float.NaN;
    g.get("frozen")[1] = 1e30f;
    return g;
  }

  /**
   * The workers' decision of a SYNC step whose (single) trainer pushed {@code g}: each tensor is
   * split after its first block across two ShardGroups (two workers), whose statistics reach the
   * StepDecider in the order worker B, worker A.
   */
  private static UpdateDecision workersDecide(Pipeline p, List<TensorInfo> tensors, Map<String, float[]> g) {
    List<ShardSpec> atA = new ArrayList<>();
    List<ShardSpec> atB = new ArrayList<>();
    for (TensorInfo t : tensors) {
      TensorShape shape = new TensorShape(t.name(), new long[] {t.elements()});
      int cut = Math.min(BLOCK, t.elements());
      atA.add(new ShardSpec(t.index(), shape, 0, cut));
      if (cut < t.elements()) {
        atB.add(new ShardSpec(t.index(), shape, cut, t.elements() - cut));
      }
    }
    List<BlockStatistics> stats = new ArrayList<>();
    stats.addAll(statistics(p, atB, g));
    stats.addAll(statistics(p, atA, g));
    return StepDecider.decide(p, 0, stats, tensors.stream().map(TensorInfo::name).toList());
  }

  private static List<BlockStatistics> statistics(Pipeline p, List<ShardSpec> shards, Map<String, float[]> g) {
    if (shards.isEmpty()) {
      return List.of();
    }
    List<float[]> initial = new ArrayList<>();
    float[][] pushed = new float[shards.size()][];
    for (int i = 0; i < shards.size(); i++) {
      ShardSpec s = shards.get(i);
      initial.add(new float[s.length()]);
      pushed[i] = Arrays.copyOfRange(g.get(s.name()), s.offset(), s.offset() + s.length());
    }
    ParallelApply parallel = new ParallelApply(pool, 3, 1);
    ShardGroup group = new ShardGroup(p, shards, initial, 1, new CpuBackend(parallel), parallel);
    return group.statistics(group.prepare(List.<float[][]>of(pushed)));
  }

  @ParameterizedTest
  @MethodSource("sizesAroundBlocks")
  void asyncStatisticsAreTheWorkersSyncStatisticsBitwise(int n) {
    List<TensorInfo> tensors = model(n);
    Map<String, float[]> g = wideGradient(tensors, n);
    for (Pipeline p : List.of(sgd(0.1).clipValue(0.5).clipNorm(1.0).freeze("frozen"),
        sgd(0.1).clipNorm(1e-3).freeze("frozen"))) {
      Gradients.Stats trainer = Gradients.stats(tensors, g, p);
      UpdateDecision sync = workersDecide(p, tensors, g);

      assertThat(trainer.nonFinite()).isFalse(); // the frozen tensor's NaN counts nowhere
      assertThat(sync.applies()).isTrue();
      // The trainer's statistics give the ASYNC decision exactly the SYNC one: norm and clip scale.
      assertThat(StepDecider.decideAsync(p, 0, trainer.normSquared(), false)).isEqualTo(sync);
      assertThat(Double.doubleToRawLongBits(Math.sqrt(trainer.normSquared())))
          .isEqualTo(Double.doubleToRawLongBits(sync.gradientNorm()));
    }
  }

  @ParameterizedTest
  @MethodSource("sizesAroundBlocks")
  void aNonFiniteElementOfAnActiveTensorSkipsLikeTheWorkers(int n) {
    List<TensorInfo> tensors = model(n);
    Map<String, float[]> g = wideGradient(tensors, n);
    g.get("big")[n - 1] = Float.NEGATIVE_INFINITY; // in the last block, on worker B when split
    Pipeline p = sgd(0.1).clipValue(0.5).skipNonFinite().freeze("frozen");

    Gradients.Stats trainer = Gradients.stats(tensors, g, p);

    assertThat(trainer.nonFinite()).isTrue();
    assertThat(workersDecide(p, tensors, g).action()).isEqualTo(UpdateDecision.Action.SKIP);
    assertThat(StepDecider.decideAsync(p, 0, trainer.normSquared(), trainer.nonFinite()).action())
        .isEqualTo(UpdateDecision.Action.SKIP);
  }
}
