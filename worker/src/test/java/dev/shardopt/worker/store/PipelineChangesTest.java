package dev.shardopt.worker.store;

import static dev.shardopt.worker.store.TestModels.pull;
import static dev.shardopt.worker.store.TestModels.push;
import static dev.shardopt.worker.store.TestModels.refused;
import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.dsl.Pipeline;
import dev.shardopt.engine.LocalOptimizer;
import dev.shardopt.engine.TensorShape;
import dev.shardopt.engine.kernel.ParallelApply;
import dev.shardopt.rpc.ApiException;
import dev.shardopt.v1.TrainingMode;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Pipeline changes from the coordinator's schedule: each SYNC step runs under the generation in
 * force at it, and pushes are validated under that one. The expected parameters come from the
 * in-process LocalOptimizer given the same schedule (setPipeline before the push at from_step),
 * compared bitwise.
 */
class PipelineChangesTest {
  private static final List<String> NAMES = List.of("a", "b");
  private final TestModels models = new TestModels();

  @AfterEach
  void stop() {
    models.close();
  }

  /** Trainer r's gradient of tensor {@code tensor} at step s; NaN where {@code nan} says. */
  private static float[] gradient(int s, int r, int tensor, int length) {
    float[] g = new float[length];
    for (int i = 0; i < length; i++) {
      g[i] = (float) (2 * Math.sin(1 + 7 * s + 3 * r + i + 11 * tensor));
    }
    return g;
  }

  /**
   * Runs {@code steps} SYNC steps of K trainers on a worker and on a LocalOptimizer under {@code
   * base} with {@code changes} (by step), leaving out tensors frozen at the step and putting a NaN
   * into tensor a at {@code nanStep}; returns both final parameters.
   */
  private void runBoth(int k, String base, Map<Long, String> changes, int steps, long nanStep) throws Exception {
    Pipeline p0 = Pipeline.parse(base);
    FakeCoordinator c = new FakeCoordinator(p0, NAMES);
    TreeMap<Long, Pipeline> schedule = new TreeMap<>();
    schedule.put(0L, p0);
    for (Map.Entry<Long, String> e : new TreeMap<>(changes).entrySet()) { // generations in step order
      Pipeline next = Pipeline.parse(e.getValue());
      c.change(next, e.getKey());
      schedule.put(e.getKey(), next);
    }
    float[] a0 = {0.5f, -0.25f, 1f};
    float[] b0 = {0.75f, 2f};
    WorkerModel m = models.model(p0, k, TrainingMode.SYNC, 0, c, NAMES, a0.clone(), b0.clone());
    Map<TensorShape, float[]> init = new LinkedHashMap<>();
    init.put(new TensorShape("a", new long[] {3}), a0.clone());
    init.put(new TensorShape("b", new long[] {2}), b0.clone());
    LocalOptimizer local = new LocalOptimizer(p0, init, k, new ParallelApply(models.pool, 1));
    for (int s = 0; s < steps; s++) {
      Pipeline at = schedule.floorEntry((long) s).getValue();
      if (s > 0 && schedule.containsKey((long) s)) {
        local.setPipeline(at);
      }
      boolean bFrozen = at.settingsFor("b").frozen();
      List<Map<String, float[]>> byTrainer = new ArrayList<>();
      for (int r = 0; r < k; r++) {
        float[] ga = gradient(s, r, 0, 3);
        if (s == nanStep) {
          ga[1] = Float.NaN;
        }
        float[] gb = bFrozen ? null : gradient(s, r, 1, 2);
        push(m, r, s, new float[][] {ga.clone(), gb == null ? null : gb.clone()});
        Map<String, float[]> g = new LinkedHashMap<>();
        g.put("a", ga);
        if (gb != null) {
          g.put("b", gb);
        }
        byTrainer.add(g);
      }
      local.push(byTrainer);
    }
    float[][] cluster = pull(m, steps);
    assertThat(cluster[0]).as("a").isEqualTo(local.parameter("a"));
    assertThat(cluster[1]).as("b").isEqualTo(local.parameter("b"));
    assertThat(m.updatesApplied()).isEqualTo(local.updatesApplied());
    assertThat(m.stepsSkipped()).isEqualTo(local.stepsSkipped());
    // the schedule moved the parameters: b is not where it started
    assertThat(cluster[1]).isNotEqualTo(b0);
  }

  @ParameterizedTest(name = "K={0}")
  @ValueSource(ints = {1, 3})
  void anUnfrozenTensorIsUpdatedFromItsStep(int k) throws Exception {
    runBoth(k, "adam(0.05).freeze(\"b\")", Map.of(2L, "adam(0.05)"), 5, -1);
  }

  @ParameterizedTest(name = "K={0}")
  @ValueSource(ints = {1, 3})
  void freezeSkipNonFiniteAndClipValueToggledStepByStep(int k) throws Exception {
    String base = "adam(0.05).clipNorm(2.0)";
    runBoth(k, base, Map.of(
        1L, base + ".freeze(\"b\")",
        2L, base + ".skipNonFinite()",
        3L, base + ".clipValue(0.1)",
        4L, base), 6, 2);
  }

  @ParameterizedTest(name = "K={0}")
  @ValueSource(ints = {1, 3})
  void freezeChangesInsideAccumulationWindows(int k) throws Exception {
    // windows {0, 1}, {2, 3}, {4, 5}: b frozen from the middle of the first, unfrozen in the middle of the second
    String base = "momentum(0.1).accumulate(2)";
    runBoth(k, base, Map.of(1L, base + ".freeze(\"b\")", 3L, base), 6, -1);
  }

  @ParameterizedTest(name = "K={0}")
  @ValueSource(ints = {1, 3})
  void leavingOutATensorThatIsActiveAtTheStepIsRefused(int k) throws Exception {
    // before: K=1 skipped b's update silently, K=3 failed the model with an NPE
    Pipeline frozen = Pipeline.parse("sgd(1.0).freeze(\"b\")");
    FakeCoordinator c = new FakeCoordinator(frozen, NAMES);
    c.change(Pipeline.parse("sgd(1.0)"), 1);
    WorkerModel m = models.model(frozen, k, TrainingMode.SYNC, 0, c, NAMES, new float[1], new float[1]);
    for (int r = 0; r < k; r++) {
      push(m, r, 0, new float[][] {{1}, null});
    }
    pull(m, 1);
    ApiException e = refused(() -> push(m, 0, 1, new float[][] {{1}, null}));
    assertThat(e.code()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(e).hasMessage((k == 1 ? "" : "trainer 0: ") + "no gradient for 'b'");
  }

  @Test
  void aRetryOfAnAppliedStepIsADuplicateEvenWhenANewerPipelineWouldRefuseIt() throws Exception {
    Pipeline frozen = Pipeline.parse("sgd(1.0).freeze(\"b\")");
    FakeCoordinator c = new FakeCoordinator(frozen, NAMES);
    c.change(Pipeline.parse("sgd(1.0)"), 1);
    WorkerModel m = models.model(frozen, 1, TrainingMode.SYNC, 0, c, NAMES, new float[1], new float[1]);
    push(m, 0, 0, new float[][] {{1}, null});
    push(m, 0, 1, new float[][] {{1}, {2}});
    assertThat(pull(m, 2)[1]).containsExactly(-2f);
    // step 0 again, without b: invalid under generation 1, but it is a retry of a received push
    assertThat(push(m, 0, 0, new float[][] {{1}, null})).isEqualTo(new PushAck(0, true, 2));
    assertThat(refused(() -> push(m, 0, 0, new float[][] {{9}, null})).code()).isEqualTo(Status.Code.ALREADY_EXISTS);
  }

  @Test
  void theScheduleIsFetchedBeforeAPushBeyondFixedThroughIsValidated() throws Exception {
    Pipeline all = Pipeline.parse("sgd(1.0)");
    FakeCoordinator c = new FakeCoordinator(all, NAMES);
    WorkerModel m = models.model(all, 1, TrainingMode.SYNC, 0, c, NAMES, new float[1], new float[1]);
    push(m, 0, 0, new float[][] {{1}, {1}});
    pull(m, 1);
    assertThat(m.fixedThrough()).isEqualTo(1); // from step 0's decision
    c.change(Pipeline.parse("sgd(1.0).freeze(\"b\")"), 2);
    push(m, 0, 1, new float[][] {{1}, {1}});
    pull(m, 2);
    // step 1's decision named generation 1, which this worker did not know: no raise past 1
    assertThat(m.fixedThrough()).isEqualTo(1);
    // b left out at step 2 is valid only under generation 1: the worker must ask first
    push(m, 0, 2, new float[][] {{1}, null});
    assertThat(pull(m, 3)).satisfies(p -> {
      assertThat(p[0]).containsExactly(-3f);
      assertThat(p[1]).containsExactly(-2f);
    });
    assertThat(c.calls).containsExactly(
        "decide 0 under 0", "decide 1 under 0", "schedule through 2", "decide 2 under 1");
  }
}
