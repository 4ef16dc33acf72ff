package dev.shardopt.embedded;

import static dev.shardopt.client.Initializers.normal;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.shardopt.client.ClientOptions;
import dev.shardopt.client.ModelOptions;
import dev.shardopt.client.RemoteModel;
import dev.shardopt.client.ShardoptCluster;
import dev.shardopt.client.ShardoptException;
import dev.shardopt.client.TensorDef;
import dev.shardopt.client.Tensors;
import dev.shardopt.client.Trainer;
import dev.shardopt.coordinator.CoordinatorConfig;
import dev.shardopt.coordinator.ScheduleLockHooks;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.engine.InitialValues;
import dev.shardopt.engine.LocalOptimizer;
import dev.shardopt.engine.TensorShape;
import dev.shardopt.engine.kernel.ParallelApply;
import dev.shardopt.v1.Model;
import dev.shardopt.v1.ModelState;
import io.grpc.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Pipeline changes mid-run through real gRPC servers: every shard applies every step under the
 * generation the coordinator's schedule names for it, so the cluster stays bitwise equal to the
 * in-process optimizer given the same schedule; and the protocol defects found in review and by a
 * new C++ client stay fixed.
 */
class PipelineChangeTest {
  private static final String[] NAMES = {"a.w", "b.w", "c"};
  private static final long[][] SHAPES = {{20_000}, {9_000}, {7}};

  /** A change of pipeline from step {@code atStep} on. */
  record Change(long atStep, Pipeline pipeline) {}

  private static final Pipeline START = Pipeline.parse("adam(0.01).accumulate(2).freeze(\"b.*\")");

  /**
   * freeze, clipValue, skipNonFinite and clipNorm toggled, with accumulate(2) on, several changes
   * in the middle of a window (odd steps), and a non-finite gradient at step 5 under skipNonFinite.
   */
  private static final List<Change> CHANGES = List.of(
      new Change(3, Pipeline.parse("adam(0.01).accumulate(2)")),
      new Change(5, Pipeline.parse("adam(0.01).clipValue(0.5).accumulate(2).skipNonFinite()")),
      new Change(6, Pipeline.parse("adam(0.01).clipValue(0.5).accumulate(2).skipNonFinite().freeze(\"a.*\")")),
      new Change(8, Pipeline.parse("adam(0.01).clipNorm(1.0).accumulate(2)")),
      new Change(9, Pipeline.parse("adam(0.01).clipNorm(1.0).accumulate(2).freeze(\"c\")")));
  private static final int STEPS = 12;

  @Test
  void togglingFreezeClipAndSkipMidRunMatchesTheLocalOptimizerBitwiseWithOneTrainer() throws Exception {
    assertClusterMatchesLocal(1);
  }

  @Test
  void togglingFreezeClipAndSkipMidRunMatchesTheLocalOptimizerBitwiseWithThreeTrainers() throws Exception {
    assertClusterMatchesLocal(3);
  }

  private static void assertClusterMatchesLocal(int trainers) throws Exception {
    List<List<Map<String, float[]>>> grads = gradients(trainers, 5, 0);
    List<Map<String, float[]>> expected = local(trainers, grads);
    for (int[] config : new int[][] {{1, 0}, {3, 1}}) {
      List<Map<String, float[]>> got = cluster(config[0], config[1], trainers, grads);
      for (int s = 0; s < STEPS; s++) {
        for (String name : NAMES) {
          assertThat(got.get(s).get(name))
              .as("K=%d, %d workers, shard blocks %d, after step %d, %s", trainers, config[0], config[1], s, name)
              .isEqualTo(expected.get(s).get(name));
        }
      }
    }
    // The schedule really changed what happened: b moved only after it was unfrozen at step 3 (the
    // update of window (2, 3)), the window (4, 5) with a NaN was skipped, a was frozen for the
    // window (6, 7) only, and c from step 9 on (the last push of window (8, 9): no update of c).
    assertThat(expected.get(2).get("b.w")).isEqualTo(expected.get(0).get("b.w"));
    assertThat(expected.get(3).get("b.w")).isNotEqualTo(expected.get(2).get("b.w"));
    assertThat(expected.get(5).get("a.w")).isEqualTo(expected.get(3).get("a.w"));
    assertThat(expected.get(7).get("a.w")).isEqualTo(expected.get(5).get("a.w"));
    assertThat(expected.get(7).get("b.w")).isNotEqualTo(expected.get(5).get("b.w"));
    assertThat(expected.get(9).get("a.w")).isNotEqualTo(expected.get(7).get("a.w"));
    assertThat(expected.get(7).get("c")).isNotEqualTo(expected.get(5).get("c"));
    assertThat(expected.get(11).get("c")).isEqualTo(expected.get(7).get("c"));
  }

  /** Gradients per step and trainer; one NaN at {@code nanStep} from trainer {@code nanTrainer}. */
  private static List<List<Map<String, float[]>>> gradients(int trainers, int nanStep, int nanTrainer) {
    Random rnd = new Random(7 + trainers);
    List<List<Map<String, float[]>>> out = new ArrayList<>();
    for (int s = 0; s < STEPS; s++) {
      List<Map<String, float[]>> push = new ArrayList<>();
      for (int r = 0; r < trainers; r++) {
        Map<String, float[]> g = new LinkedHashMap<>();
        for (int t = 0; t < NAMES.length; t++) {
          float[] v = new float[size(t)];
          for (int i = 0; i < v.length; i++) {
            v[i] = (float) rnd.nextGaussian();
          }
          g.put(NAMES[t], v);
        }
        if (s == nanStep && r == nanTrainer) {
          g.get("c")[3] = Float.NaN;
        }
        push.add(g);
      }
      out.add(push);
    }
    return out;
  }

  private static int size(int t) {
    return (int) SHAPES[t][0];
  }

  private static TensorDef[] tensorDefs() {
    TensorDef[] defs = new TensorDef[NAMES.length];
    for (int t = 0; t < NAMES.length; t++) {
      defs[t] = Tensors.of(NAMES[t], SHAPES[t]).init(normal(0.1, 40 + t));
    }
    return defs;
  }

  private static List<Map<String, float[]>> local(int trainers, List<List<Map<String, float[]>>> grads) {
    ExecutorService pool = Executors.newFixedThreadPool(1);
    try {
      Map<TensorShape, float[]> init = new LinkedHashMap<>();
      for (int t = 0; t < NAMES.length; t++) {
        float[] v = new float[size(t)];
        InitialValues.fill(normal(0.1, 40 + t), 0, v);
        init.put(new TensorShape(NAMES[t], SHAPES[t]), v);
      }
      LocalOptimizer opt = new LocalOptimizer(START, init, trainers, new ParallelApply(pool, 2, 1));
      List<Map<String, float[]>> out = new ArrayList<>();
      for (int s = 0; s < grads.size(); s++) {
        for (Change c : CHANGES) {
          if (c.atStep() == s) {
            opt.setPipeline(c.pipeline());
          }
        }
        opt.push(grads.get(s));
        out.add(opt.parameters());
      }
      return out;
    } finally {
      pool.shutdownNow();
    }
  }

  /**
   * The same run on a cluster: each change is sent two steps ahead, while training runs (the step
   * before it may be collecting pushes already), except the first, sent before step 0.
   */
  private static List<Map<String, float[]>> cluster(
      int workers, int shardBlocks, int trainers, List<List<Map<String, float[]>>> grads) throws Exception {
    EmbeddedCluster.Builder b = EmbeddedCluster.builder().workers(workers)
        .coordinator(CoordinatorConfig.defaults().withMaxShardBlocks(shardBlocks))
        .worker((i, c) -> c.withThreads(1 + i % 2));
    ExecutorService threads = Executors.newFixedThreadPool(trainers);
    try (ShardoptCluster cluster = ShardoptLocal.start(b, ClientOptions.defaults())) {
      RemoteModel model = cluster.createModel(
          ModelOptions.named("changes").pipeline(START).trainers(trainers).tensors(tensorDefs()));
      model.updatePipeline(CHANGES.get(0).pipeline(), CHANGES.get(0).atStep());
      List<Trainer> ts = new ArrayList<>();
      for (int r = 0; r < trainers; r++) {
        ts.add(model.trainer(r, trainers));
      }
      List<Map<String, float[]>> out = new ArrayList<>();
      for (int s = 0; s < grads.size(); s++) {
        for (Change c : CHANGES.subList(1, CHANGES.size())) {
          if (c.atStep() == s + 2) {
            model.updatePipeline(c.pipeline(), c.atStep());
          }
        }
        List<Future<?>> pushes = new ArrayList<>();
        for (int r = 0; r < trainers; r++) {
          Trainer t = ts.get(r);
          Map<String, float[]> g = grads.get(s).get(r);
          long step = s;
          pushes.add(threads.submit(() -> t.push(step, g)));
        }
        for (Future<?> f : pushes) {
          f.get(60, TimeUnit.SECONDS);
        }
        out.add(model.pull(s + 1));
      }
      assertThat(model.describe().getPipelineScheduleList()).extracting(g -> g.getFromStep())
          .containsExactly(0L, 3L, 5L, 6L, 8L, 9L);
      assertThat(model.describe().getStep()).isEqualTo(STEPS);
      return out;
    } finally {
      threads.shutdownNow();
    }
  }

  // ---------------------------------------------------------------- the defects, one by one

  @Test
  void aPushThatLeavesOutATensorUnfrozenAtItsStepIsRefusedNotSilentlySkipped() throws Exception {
    for (int trainers : new int[] {1, 3}) {
      try (ShardoptCluster c = local(1)) {
        RemoteModel m = c.createModel(ModelOptions.named("unfreeze" + trainers)
            .pipeline(Pipeline.parse("sgd(1.0).freeze(\"f\")")).trainers(trainers)
            .tensors(Tensors.of("w", 2), Tensors.of("f", 2)));
        m.updatePipeline(Pipeline.parse("sgd(1.0)"), 1);
        try (RawWorker w = rawWorker(m)) {
          for (int r = 0; r < trainers; r++) {
            assertThat(w.push(m.name(), r, 0, Map.of("w", new float[] {1, 1}))).isEqualTo(Status.Code.OK); // f frozen: may be left out
          }
          m.pull(1);
          // at step 1, f is no longer frozen: leaving it out is an error, not a silently skipped update
          assertThat(w.push(m.name(), 0, 1, Map.of("w", new float[] {1, 1}))).isEqualTo(Status.Code.INVALID_ARGUMENT);
          assertThat(w.lastDescription).contains("'f'");
          for (int r = 0; r < trainers; r++) {
            assertThat(w.push(m.name(), r, 1, Map.of("w", new float[] {1, 1}, "f", new float[] {2, 4}))).isEqualTo(Status.Code.OK);
          }
          Map<String, float[]> p = m.pull(2);
          assertThat(p.get("w")).containsExactly(-2f, -2f);
          assertThat(p.get("f")).containsExactly(-2f, -4f);
          assertThat(m.describe().getState()).isEqualTo(ModelState.READY);
        }
      }
    }
  }

  @Test
  void aRetriedPushOfAnAppliedStepIsADuplicateEvenWhenTheNewPipelineWouldRefuseIt() throws Exception {
    try (ShardoptCluster c = local(1)) {
      RemoteModel m = c.createModel("retry", Pipeline.parse("sgd(1.0).skipNonFinite()"), Tensors.of("w", 2));
      m.updatePipeline(Pipeline.parse("sgd(1.0)"), 1);
      try (RawWorker w = rawWorker(m)) {
        Map<String, float[]> nan = Map.of("w", new float[] {Float.NaN, 1});
        assertThat(w.push(m.name(), 0, 0, nan)).isEqualTo(Status.Code.OK); // skipped under skipNonFinite
        m.pull(1);
        // the retry is checked against step 0's pipeline, after the exactly-once check: a duplicate
        assertThat(w.push(m.name(), 0, 0, nan)).isEqualTo(Status.Code.OK);
        assertThat(w.lastResponse.getDuplicate()).isTrue();
        // step 1 runs under the new pipeline, which refuses a NaN
        assertThat(w.push(m.name(), 0, 1, nan)).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(m.pull(1).get("w")).containsExactly(0f, 0f);
        assertThat(m.describe().getStepsSkipped()).isEqualTo(1);
      }
    }
  }

  @Test
  void aDuplicatePushWithOtherDataIsRefusedWithAlreadyExists() throws Exception {
    try (ShardoptCluster c = local(1)) {
      RemoteModel m = c.createModel("crc", Pipeline.parse("sgd(1.0)"), Tensors.of("w", 3));
      try (RawWorker w = rawWorker(m)) {
        assertThat(w.push(m.name(), 0, 0, Map.of("w", new float[] {1, 2, 3}))).isEqualTo(Status.Code.OK);
        assertThat(w.push(m.name(), 0, 0, Map.of("w", new float[] {1, 2, 3}))).isEqualTo(Status.Code.OK);
        assertThat(w.lastResponse.getDuplicate()).isTrue();
        assertThat(w.push(m.name(), 0, 0, Map.of("w", new float[] {1, 2, 4}))).isEqualTo(Status.Code.ALREADY_EXISTS);
        assertThat(w.lastDescription).contains("models/crc", "trainer 0", "step 0");
        assertThat(m.pull(1).get("w")).containsExactly(-1f, -2f, -3f);
      }
    }
  }

  @Test
  void aWorkerHoldingAnUploadTensorAndAGeneratedOneBecomesReady() throws Exception {
    float[] w = new float[20_000];
    for (int i = 0; i < w.length; i++) {
      w[i] = i * 0.5f;
    }
    try (ShardoptCluster c = local(2)) {
      RemoteModel m = c.createModel("mixed", Pipeline.parse("sgd(1.0)"),
          Tensors.of("W", w, 20_000), Tensors.of("b", 10));
      assertThat(m.describe().getState()).isEqualTo(ModelState.READY);
      Trainer t = m.trainer(0, 1);
      float[] g = new float[20_000];
      g[19_999] = 1f;
      t.push(0, Map.of("W", g, "b", new float[10]));
      Map<String, float[]> p = m.pull(1);
      assertThat(p.get("W")[19_999]).isEqualTo(19_999 * 0.5f - 1f);
      assertThat(p.get("W")[1]).isEqualTo(0.5f);
      assertThat(p.get("b")).containsOnly(0f);
    }
  }

  @Test
  void writingParametersOfAGeneratedTensorIsRefused() throws Exception {
    try (ShardoptCluster c = local(1)) {
      RemoteModel m = c.createModel("gen", Pipeline.parse("sgd(1.0)"),
          Tensors.of("w", 4).init(normal(0.1, 1)), Tensors.of("u", new float[] {5, 6}, 2));
      float[] before = m.pull(0).get("w");
      try (RawWorker w = rawWorker(m)) {
        assertThat(w.write(m.name(), "w", new float[] {9, 9, 9, 9})).isEqualTo(Status.Code.FAILED_PRECONDITION);
        assertThat(w.lastDescription).contains("'w'", "normal");
      }
      Model described = m.describe();
      assertThat(described.getState()).isEqualTo(ModelState.READY);
      assertThat(m.pull(0).get("w")).isEqualTo(before);
      assertThat(m.pull(0).get("u")).containsExactly(5f, 6f);
    }
  }

  @Test
  void aChunkOverFourMebibytesIsRefused() throws Exception {
    int n = (4 << 20) / Float.BYTES + 1;
    try (ShardoptCluster c = local(1)) {
      RemoteModel m = c.createModel("big", Pipeline.parse("sgd(1.0)"), Tensors.of("w", n));
      try (RawWorker w = rawWorker(m)) {
        assertThat(w.push(m.name(), 0, 0, Map.of("w", new float[n]))).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(w.lastDescription).contains("4194308", "4194304");
      }
    }
  }

  @Test
  void getModelStepIsExactAsSoonAsTheStepIsPullable() throws Exception {
    try (ShardoptCluster c = local(2)) {
      RemoteModel m = c.createModel("exact", Pipeline.parse("sgd(1.0)"), Tensors.of("w", 20_000));
      Trainer t = m.trainer(0, 1);
      for (int s = 0; s < 5; s++) {
        t.push(s, Map.of("w", new float[20_000]));
        m.pull(s + 1);
        assertThat(m.describe().getStep()).isEqualTo(s + 1);
      }
    }
  }

  @Test
  void aChangeAtAStepThatOneWorkerHasStartedIsRefusedAndChangesNothing() throws Exception {
    try (ShardoptCluster c = local(2)) {
      RemoteModel m = c.createModel(ModelOptions.named("started").pipeline(Pipeline.parse("sgd(1.0)")).trainers(2)
          .tensors(Tensors.of("w", 20_000)));
      Trainer t0 = m.trainer(0, 2);
      Trainer t1 = m.trainer(1, 2);
      float[] ones = new float[20_000];
      java.util.Arrays.fill(ones, 1f);
      t0.push(0, Map.of("w", ones));
      t1.push(0, Map.of("w", ones));
      m.pull(1);
      // trainer 0 pushes step 1 to the first worker only: that worker has started step 1
      try (RawWorker first = rawWorker(m)) {
        float[] slice = java.util.Arrays.copyOf(ones, (int) m.shardMap().getShards(0).getLength());
        assertThat(first.push(m.name(), 0, 1, Map.of("w", slice))).isEqualTo(Status.Code.OK);
      }
      assertThatThrownBy(() -> m.updatePipeline(Pipeline.parse("sgd(0.5)"), 1))
          .isInstanceOfSatisfying(ShardoptException.class, e -> assertThat(e.code()).isEqualTo(Status.Code.FAILED_PRECONDITION));
      assertThat(m.describe().getPipelineScheduleCount()).isEqualTo(1);
      t0.push(1, Map.of("w", ones));
      t1.push(1, Map.of("w", ones));
      // both workers applied step 1 under sgd(1.0): -1 -1
      assertThat(m.pull(2).get("w")).containsOnly(-2f);
      m.updatePipeline(Pipeline.parse("sgd(0.5)"), 3);
      assertThat(m.describe().getPipelineScheduleList()).extracting(g -> g.getGeneration()).containsExactly(0L, 1L);
    }
  }

  // ---------------------------------------------------------------- races and ASYNC

  /**
   * Pauses the coordinator at its schedule lock to force one order between UpdatePipeline(at s)
   * and the decision of step s - 1 (which fixes the schedule through s).
   */
  private static final class RaceHooks implements ScheduleLockHooks {
    private volatile long step = -1;
    private volatile boolean updateFirst;
    private volatile CountDownLatch updateReleased = new CountDownLatch(0);
    private volatile CountDownLatch decisionReleased = new CountDownLatch(0);

    void arm(long decidedStep, boolean updateGoesFirst) {
      updateReleased = new CountDownLatch(1);
      decisionReleased = new CountDownLatch(1);
      updateFirst = updateGoesFirst;
      step = decidedStep;
    }

    @Override
    public void at(Section section, Phase phase, String model, long at) {
      if (section == Section.DECISION && at == step) {
        if (phase == Phase.LOCKING && updateFirst) {
          await(updateReleased);
        } else if (phase == Phase.RELEASED) {
          decisionReleased.countDown();
        }
      } else if (section == Section.UPDATE && at == step + 1) {
        if (phase == Phase.LOCKING && !updateFirst) {
          await(decisionReleased);
        } else if (phase == Phase.RELEASED) {
          updateReleased.countDown();
        }
      }
    }

    private static void await(CountDownLatch latch) {
      try {
        if (!latch.await(30, TimeUnit.SECONDS)) {
          throw new AssertionError("the other side of the race never came");
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError(e);
      }
    }
  }

  @Test
  void anUpdateRacingTheDecisionOfTheStepBeforeItLandsWholeOrNotAtAll() throws Exception {
    int steps = 40;
    int n = 20_000;
    RaceHooks hooks = new RaceHooks();
    EmbeddedCluster.Builder b = EmbeddedCluster.builder().workers(2)
        .coordinator(CoordinatorConfig.defaults().withMaxShardBlocks(1))
        .worker((i, cfg) -> cfg.withThreads(1))
        .overrideCoordinator(binder -> binder.bind(ScheduleLockHooks.class).toInstance(hooks));
    Random rnd = new Random(3);
    List<float[]> grads = new ArrayList<>();
    for (int s = 0; s < steps + 1; s++) {
      float[] g = new float[n];
      for (int i = 0; i < n; i++) {
        g[i] = (float) rnd.nextGaussian();
      }
      grads.add(g);
    }
    List<Change> accepted = new ArrayList<>();
    ExecutorService pusher = Executors.newSingleThreadExecutor();
    try (ShardoptCluster c = ShardoptLocal.start(b, ClientOptions.defaults())) {
      RemoteModel m = c.createModel("race", Pipeline.parse("sgd(0.1).clipNorm(50.0)"),
          Tensors.of("w", n).init(normal(0.1, 5)));
      Trainer t = m.trainer(0, 1);
      t.push(0, Map.of("w", grads.get(0)));
      m.pull(1);
      for (int s = 2; s <= steps; s++) {
        // race UpdatePipeline(at s) against the decision of step s - 1, in the order the hooks force
        boolean updateFirst = s % 2 == 0;
        hooks.arm(s - 1, updateFirst);
        long pushed = s - 1;
        Future<?> push = pusher.submit(() -> t.push(pushed, Map.of("w", grads.get((int) pushed))));
        Pipeline next = Pipeline.parse("sgd(" + (0.1 + 0.001 * s) + ").clipNorm(50.0)");
        try {
          m.updatePipeline(next, s);
          assertThat(updateFirst).as("step %d: accepted after the decision fixed it", s).isTrue();
          accepted.add(new Change(s, next));
        } catch (ShardoptException e) {
          assertThat(updateFirst).as("step %d: refused before the decision fixed it: %s", s, e).isFalse();
          assertThat(e.code()).isEqualTo(Status.Code.FAILED_PRECONDITION);
        }
        push.get(60, TimeUnit.SECONDS);
        m.pull(s);
      }
      t.push(steps, Map.of("w", grads.get(steps)));
      float[] got = m.pull(steps + 1).get("w");
      assertThat(accepted).hasSize(steps / 2); // every even s in [2, steps]
      assertThat(m.describe().getPipelineScheduleCount()).isEqualTo(1 + accepted.size());
      assertThat(m.metrics()).extracting(x -> x.learningRate()).containsExactlyElementsOf(learningRates(steps + 1, accepted));

      // every shard equals the in-process optimizer given the schedule that was accepted
      ExecutorService pool = Executors.newSingleThreadExecutor();
      try {
        float[] init = new float[n];
        InitialValues.fill(normal(0.1, 5), 0, init);
        LocalOptimizer local = new LocalOptimizer(Pipeline.parse("sgd(0.1).clipNorm(50.0)"),
            Map.of(new TensorShape("w", new long[] {n}), init), 1, new ParallelApply(pool, 1, 1));
        for (int s = 0; s <= steps; s++) {
          for (Change ch : accepted) {
            if (ch.atStep() == s) {
              local.setPipeline(ch.pipeline());
            }
          }
          local.push(List.of(Map.of("w", grads.get(s))));
        }
        assertThat(got).isEqualTo(local.parameter("w"));
      } finally {
        pool.shutdownNow();
      }
    } finally {
      pusher.shutdownNow();
    }
  }

  /** lr of each step under the accepted changes: 0.1 until the first, then 0.1 + 0.001 s. */
  private static List<Double> learningRates(int steps, List<Change> accepted) {
    List<Double> out = new ArrayList<>();
    double lr = 0.1;
    for (int s = 0; s < steps; s++) {
      for (Change ch : accepted) {
        if (ch.atStep() == s) {
          lr = ch.pipeline().rule().lr();
        }
      }
      out.add(lr);
    }
    return out;
  }

  @Test
  void anAsyncChangeAppliesFromEachTrainersOwnPushIndexOnEveryWorker() throws Exception {
    int trainers = 2;
    int pushes = 6;
    Pipeline start = Pipeline.parse("adam(0.01).clipNorm(2.0)");
    List<Change> changes = List.of(
        new Change(2, Pipeline.parse("adam(0.01).clipNorm(2.0).clipValue(0.5)")),
        new Change(4, Pipeline.parse("adam(0.02).clipNorm(1.0).freeze(\"b.*\")")));
    List<List<Map<String, float[]>>> grads = gradients(trainers, -1, 0);
    List<Map<String, float[]>> got = new ArrayList<>();
    try (ShardoptCluster c = ShardoptLocal.start(EmbeddedCluster.builder().workers(3)
        .coordinator(CoordinatorConfig.defaults().withMaxShardBlocks(1)), ClientOptions.defaults())) {
      RemoteModel m = c.createModel(ModelOptions.named("async-change").pipeline(start).trainers(trainers).async()
          .tensors(tensorDefs()));
      for (Change ch : changes) {
        m.updatePipeline(ch.pipeline(), ch.atStep());
      }
      // one thread pushes in a fixed order, so that every worker applies the pushes in that order
      for (int i = 0; i < pushes; i++) {
        for (int r = 0; r < trainers; r++) {
          m.trainer(r, trainers).push(i, grads.get(i).get(r));
          got.add(m.pull((long) i * trainers + r + 1));
        }
      }
    }
    ExecutorService pool = Executors.newSingleThreadExecutor();
    try {
      Map<TensorShape, float[]> init = new LinkedHashMap<>();
      for (int t = 0; t < NAMES.length; t++) {
        float[] v = new float[size(t)];
        InitialValues.fill(normal(0.1, 40 + t), 0, v);
        init.put(new TensorShape(NAMES[t], SHAPES[t]), v);
      }
      LocalOptimizer local = new LocalOptimizer(start, init, 1, new ParallelApply(pool, 1, 1));
      int k = 0;
      for (int i = 0; i < pushes; i++) {
        for (int r = 0; r < trainers; r++) {
          for (Change ch : changes) {
            if (ch.atStep() == i && r == 0) {
              local.setPipeline(ch.pipeline()); // trainer r's push i runs under the pipeline at i
            }
          }
          local.push(List.of(grads.get(i).get(r)));
          for (String name : NAMES) {
            assertThat(got.get(k).get(name)).as("push %d of trainer %d, %s", i, r, name).isEqualTo(local.parameter(name));
          }
          k++;
        }
      }
      assertThat(local.updatesApplied()).isEqualTo((long) pushes * trainers);
    } finally {
      pool.shutdownNow();
    }
  }

  // ---------------------------------------------------------------- helpers

  private static ShardoptCluster local(int workers) {
    EmbeddedCluster.Builder b = EmbeddedCluster.builder().workers(workers)
        .coordinator(CoordinatorConfig.defaults().withBarrierTimeoutMillis(10_000).withHeartbeatMillis(100))
        .worker((i, cfg) -> cfg.withThreads(1).withWaitMillis(10_000));
    return ShardoptLocal.start(b, ClientOptions.defaults().rpcDeadline(Duration.ofSeconds(20)));
  }

  /** Raw calls to the worker that holds a model's first shard. */
  private static RawWorker rawWorker(RemoteModel m) {
    return new RawWorker(m.shardMap().getShards(0).getAddress());
  }
}
