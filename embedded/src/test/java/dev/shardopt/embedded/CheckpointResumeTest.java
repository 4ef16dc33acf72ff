package dev.shardopt.embedded;

import static dev.shardopt.client.Initializers.normal;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.shardopt.checkpoint.CheckpointReader;
import dev.shardopt.client.CheckpointInfo;
import dev.shardopt.client.ClientOptions;
import dev.shardopt.client.ModelOptions;
import dev.shardopt.client.RemoteModel;
import dev.shardopt.client.ShardoptCluster;
import dev.shardopt.client.ShardoptException;
import dev.shardopt.client.TensorDef;
import dev.shardopt.client.Tensors;
import dev.shardopt.client.Trainer;
import dev.shardopt.coordinator.CoordinatorConfig;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.engine.InitialValues;
import dev.shardopt.engine.LocalOptimizer;
import dev.shardopt.engine.TensorShape;
import dev.shardopt.engine.kernel.ParallelApply;
import dev.shardopt.v1.CheckpointManifest;
import dev.shardopt.v1.PipelineGeneration;
import io.grpc.Status;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Checkpoint while training and restore through real embedded clusters (issue 8, section 4): a
 * SYNC model with K = 3 trainers, accumulate(2), clipNorm, clipValue, a tensor frozen through the
 * checkpoint and pipeline changes before, across and after it is checkpointed on 2 workers at a
 * step boundary while training runs; restored on 1, 3 and 5 workers it continues bitwise as the
 * uninterrupted run and as the in-process optimizer given the same schedule. The files are a
 * checkpoint the checkpoint module reads and verifies; a damaged one is refused, naming the file,
 * and leaves no model behind.
 */
class CheckpointResumeTest {
  private static final String[] NAMES = {"a.w", "b.w", "c"};
  private static final long[][] SHAPES = {{20_000}, {9_000}, {7}};
  private static final int TRAINERS = 3;
  private static final int STEPS = 14;
  /** The checkpointed step boundary: a multiple of accumulate(2). */
  private static final long AT = 6;

  /** A change of pipeline from step {@code atStep} on. */
  record Change(long atStep, Pipeline pipeline) {}

  /** b frozen from the start until step 9: its state is never created before the checkpoint. */
  private static final Pipeline START =
      Pipeline.parse("adam(0.01).clipNorm(1.0).clipValue(0.5).accumulate(2).freeze(\"b.*\")");
  /**
   * At 3 (mid-window, before the checkpoint), at 9 (registered before the checkpoint, in force
   * after it: the checkpoint carries a future generation), at 12 (sent after the checkpoint; the
   * restored runs send it again).
   */
  private static final List<Change> CHANGES = List.of(
      new Change(3, Pipeline.parse("adam(0.02).clipNorm(2.0).clipValue(0.5).accumulate(2).freeze(\"b.*\")")),
      new Change(9, Pipeline.parse("adam(0.02).clipNorm(2.0).clipValue(0.25).accumulate(2).freeze(\"c\")")),
      new Change(12, Pipeline.parse("adam(0.005).clipNorm(1.0).clipValue(0.5).accumulate(2)")));
  private static final Change AFTER = CHANGES.get(2);

  @TempDir static Path dir;
  private static List<List<Map<String, float[]>>> grads;
  private static List<Map<String, float[]>> expected;
  private static Map<String, Map<String, float[]>> expectedStateAtCheckpoint;
  private static List<Map<String, float[]>> uninterrupted;
  private static CheckpointInfo info;
  private static ExecutorService threads;

  @BeforeAll
  static void trainOnTwoWorkersAndCheckpointMidRun() throws Exception {
    threads = Executors.newCachedThreadPool();
    grads = gradients();
    expected = local();
    uninterrupted = new ArrayList<>();
    try (ShardoptCluster cluster = local(2)) {
      RemoteModel model = cluster.createModel(
          ModelOptions.named("ckpt").pipeline(START).trainers(TRAINERS).tensors(tensorDefs()));
      model.updatePipeline(CHANGES.get(0).pipeline(), CHANGES.get(0).atStep());
      model.updatePipeline(CHANGES.get(1).pipeline(), CHANGES.get(1).atStep());
      List<Trainer> ts = trainers(model);
      Future<CheckpointInfo> checkpoint = null;
      for (int s = 0; s < STEPS; s++) {
        if (s == 4) {
          // asked before the model reaches AT: the coordinator holds the decision of AT + 1 until
          // every worker has its snapshot, while the trainers keep pushing
          checkpoint = threads.submit(() -> model.checkpoint(dir, AT));
        }
        if (s == 8) {
          model.updatePipeline(AFTER.pipeline(), AFTER.atStep());
        }
        uninterrupted.add(step(model, ts, s));
        if (s == AT) {
          // the window (6, 7) is half full: the hold is on the decision of step 7 only
          info = checkpoint.get(60, TimeUnit.SECONDS);
          // asked again (as after a lost answer): the checkpoint this run committed
          assertThat(model.checkpoint(dir, AT).path()).isEqualTo(info.path());
          assertThatThrownBy(() -> model.checkpoint(dir, AT + 1))
              .isInstanceOfSatisfying(ShardoptException.class,
                  e -> assertThat(e.code()).isEqualTo(Status.Code.INVALID_ARGUMENT));
        }
      }
      assertThat(model.describe().getStep()).isEqualTo(STEPS);
    }
  }

  @AfterAll
  static void stopThreads() {
    threads.shutdownNow();
  }

  @Test
  void theUninterruptedRunMatchesTheLocalOptimizerAndTheScheduleReallyChangedWhatHappened() {
    assertEqualSteps(uninterrupted, 0, "uninterrupted on 2 workers");
    // b frozen through step 8, moved by the window (8, 9); c frozen from 9 until 12
    assertThat(expected.get(7).get("b.w")).isEqualTo(expected.get(0).get("b.w"));
    assertThat(expected.get(9).get("b.w")).isNotEqualTo(expected.get(7).get("b.w"));
    assertThat(expected.get(11).get("c")).isEqualTo(expected.get(7).get("c"));
    assertThat(expected.get(13).get("c")).isNotEqualTo(expected.get(11).get("c"));
  }

  @Test
  void theCheckpointIsCompleteVerifiedAndHoldsTheStateAfterItsStep() throws Exception {
    Path stepDir = dir.resolve("step-0000000006");
    assertThat(info.step()).isEqualTo(AT);
    assertThat(Path.of(info.path())).isEqualTo(stepDir.toAbsolutePath());
    // 29,007 elements, parameters and Adam's exp_avg and exp_avg_sq, 4 bytes each
    assertThat(info.bytes()).isEqualTo(3L * 4 * 29_007);
    assertThat(info.snapshotMillis()).isGreaterThanOrEqualTo(0).isLessThanOrEqualTo(info.totalMillis());
    try (Stream<Path> s = Files.list(dir)) {
      assertThat(s.map(p -> p.getFileName().toString())).containsExactly("step-0000000006");
    }
    try (CheckpointReader r = CheckpointReader.open(dir)) {
      r.verify();
      assertThat(r.dir()).isEqualTo(stepDir);
      assertThat(r.skipped()).isEmpty();
      CheckpointManifest m = r.manifest();
      assertThat(m.getStep()).isEqualTo(AT);
      assertThat(m.getNextStep()).isEqualTo(AT);
      assertThat(m.getTrainers()).isEqualTo(TRAINERS);
      assertThat(m.getPipelineScheduleOrBuilder().getGenerationsList())
          .extracting(PipelineGeneration::getFromStep).containsExactly(0L, 3L, 9L);
      assertThat(m.getFilesList()).extracting(f -> f.getTensor() + "/" + f.getSlot()).containsExactly(
          "a.w/", "a.w/exp_avg", "a.w/exp_avg_sq", "b.w/", "b.w/exp_avg", "b.w/exp_avg_sq", "c/", "c/exp_avg",
          "c/exp_avg_sq");
      for (String name : NAMES) {
        assertThat(r.readAll(name, "")).as(name).isEqualTo(expected.get((int) AT - 1).get(name));
        for (String slot : List.of("exp_avg", "exp_avg_sq")) {
          // b's state was never created (frozen since step 0): the kernel's initial state, zeros
          assertThat(r.readAll(name, slot)).as("%s.%s", name, slot)
              .isEqualTo(expectedStateAtCheckpoint.get(name).getOrDefault(slot, new float[size(name)]));
        }
      }
    }
  }

  @Test
  void restoredOnOneThreeAndFiveWorkersEveryStepIsBitwiseTheUninterruptedRun() throws Exception {
    for (int workers : new int[] {1, 3, 5}) {
      try (ShardoptCluster cluster = local(workers)) {
        RemoteModel model = cluster.restoreModel("resumed", dir);
        assertThat(model.startStep()).isEqualTo(AT);
        assertThat(model.step()).isEqualTo(AT);
        assertThat(model.shardMap().getShardsList().stream().map(s -> s.getWorker()).distinct())
            .hasSize(workers);
        Map<String, float[]> atCheckpoint = model.pull(AT);
        for (String name : NAMES) {
          assertThat(atCheckpoint.get(name)).as("%d workers, restored %s", workers, name)
              .isEqualTo(uninterrupted.get((int) AT - 1).get(name));
        }
        model.updatePipeline(AFTER.pipeline(), AFTER.atStep());
        assertThat(model.describe().getPipelineScheduleList()).extracting(g -> g.getFromStep())
            .containsExactly(0L, 3L, 9L, 12L);
        List<Trainer> ts = trainers(model);
        List<Map<String, float[]>> got = new ArrayList<>(uninterrupted.subList(0, (int) AT));
        for (int s = (int) AT; s < STEPS; s++) {
          got.add(step(model, ts, s));
        }
        assertEqualSteps(got, (int) AT, workers + " workers, restored at step " + AT);
        for (int s = (int) AT; s < STEPS; s++) {
          for (String name : NAMES) {
            assertThat(got.get(s).get(name)).as("%d workers, step %d, %s", workers, s, name)
                .isEqualTo(uninterrupted.get(s).get(name));
          }
        }
        assertThat(model.describe().getStep()).isEqualTo(STEPS);
        assertThat(cluster.listModels()).containsExactly("resumed");
      }
    }
  }

  // ---------------------------------------------------------------- corruption, through the cluster

  @Test
  void aDamagedCheckpointIsRefusedNamingTheFileAndNoModelIsLeft() throws Exception {
    Path pristine = dir.resolve("step-0000000006");
    record Damage(String what, String file, Consumer<Path> apply) {}
    List<Damage> damages = List.of(
        new Damage("a flipped byte in a state slot's data", "a%2Ew.exp_avg_sq.npy", d -> flip(d.resolve("a%2Ew.exp_avg_sq.npy"), -5)),
        new Damage("a flipped byte in a parameter file's data", "b%2Ew.npy", d -> flip(d.resolve("b%2Ew.npy"), -1)),
        new Damage("a flipped byte in an npy header", "c.exp_avg.npy", d -> flip(d.resolve("c.exp_avg.npy"), 20)),
        new Damage("a truncated parameter file", "a%2Ew.npy", d -> truncate(d.resolve("a%2Ew.npy"), 4_000)),
        new Damage("a deleted state slot file", "c.exp_avg_sq.npy", d -> delete(d.resolve("c.exp_avg_sq.npy"))),
        new Damage("a flipped digit in the manifest (still valid JSON)", "manifest.json",
            d -> replaceInManifest(d, "\"trainers\": 3", "\"trainers\": 4")),
        new Damage("a manifest that is not JSON", "manifest.json",
            d -> replaceInManifest(d, "{", "[")),
        new Damage("a deleted manifest", "manifest.json", d -> delete(d.resolve("manifest.json"))));
    try (ShardoptCluster cluster = local(2)) {
      for (Damage damage : damages) {
        Path copy = copyOf(pristine, dir.resolve("damaged-" + damages.indexOf(damage)));
        damage.apply().accept(copy);
        assertThatThrownBy(() -> cluster.restoreModel("damaged", copy)).as(damage.what())
            .isInstanceOfSatisfying(ShardoptException.class, e -> {
              assertThat(e.code()).as("%s: %s", damage.what(), e.getMessage())
                  .isIn(Status.Code.FAILED_PRECONDITION, Status.Code.INVALID_ARGUMENT);
              assertThat(e.getMessage()).as(damage.what()).contains(damage.file());
            });
        assertThat(cluster.listModels()).as(damage.what()).isEmpty();
      }
      // the same cluster restores the undamaged checkpoint
      assertThat(cluster.restoreModel("damaged", pristine).step()).isEqualTo(AT);
      assertThat(cluster.listModels()).containsExactly("damaged");
    }
  }

  private static Path copyOf(Path from, Path to) {
    try {
      Path step = to.resolve(from.getFileName());
      Files.createDirectories(step);
      try (Stream<Path> files = Files.list(from)) {
        for (Path f : files.toList()) {
          Files.copy(f, step.resolve(f.getFileName()));
        }
      }
      return step;
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  /** Flips every bit of the byte at {@code at} (from the end when negative). */
  private static void flip(Path file, long at) {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      long pos = at < 0 ? ch.size() + at : at;
      java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(1);
      ch.read(b, pos);
      b.put(0, (byte) ~b.get(0)).rewind();
      ch.write(b, pos);
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  private static void truncate(Path file, long size) {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
      ch.truncate(size);
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  private static void delete(Path file) {
    try {
      Files.delete(file);
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  private static void replaceInManifest(Path stepDir, String from, String to) {
    Path mf = stepDir.resolve("manifest.json");
    try {
      String json = Files.readString(mf, StandardCharsets.UTF_8);
      assertThat(json).contains(from);
      Files.writeString(mf, json.replaceFirst(java.util.regex.Pattern.quote(from), to), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  // ---------------------------------------------------------------- the runs

  private static ShardoptCluster local(int workers) {
    EmbeddedCluster.Builder b = EmbeddedCluster.builder().workers(workers)
        .coordinator(CoordinatorConfig.defaults().withMaxShardBlocks(1).withBarrierTimeoutMillis(30_000))
        .worker((i, cfg) -> cfg.withThreads(1 + i % 2).withWaitMillis(30_000));
    return ShardoptLocal.start(b, ClientOptions.defaults().rpcDeadline(Duration.ofSeconds(40)));
  }

  private static List<Trainer> trainers(RemoteModel model) {
    List<Trainer> ts = new ArrayList<>();
    for (int r = 0; r < TRAINERS; r++) {
      ts.add(model.trainer(r, TRAINERS));
    }
    return ts;
  }

  /** Step {@code s}: every trainer pushes at once; returns the parameters after it. */
  private static Map<String, float[]> step(RemoteModel model, List<Trainer> ts, int s) throws Exception {
    List<Future<?>> pushes = new ArrayList<>();
    for (int r = 0; r < TRAINERS; r++) {
      Trainer t = ts.get(r);
      Map<String, float[]> g = grads.get(s).get(r);
      pushes.add(threads.submit(() -> t.push(s, g)));
    }
    for (Future<?> f : pushes) {
      f.get(60, TimeUnit.SECONDS);
    }
    return model.pull(s + 1);
  }

  private static void assertEqualSteps(List<Map<String, float[]>> got, int from, String what) {
    for (int s = from; s < STEPS; s++) {
      for (String name : NAMES) {
        assertThat(got.get(s).get(name)).as("%s, after step %d, %s", what, s, name)
            .isEqualTo(expected.get(s).get(name));
      }
    }
  }

  private static List<List<Map<String, float[]>>> gradients() {
    Random rnd = new Random(88);
    List<List<Map<String, float[]>>> out = new ArrayList<>();
    for (int s = 0; s < STEPS; s++) {
      List<Map<String, float[]>> push = new ArrayList<>();
      for (int r = 0; r < TRAINERS; r++) {
        Map<String, float[]> g = new LinkedHashMap<>();
        for (String name : NAMES) {
          float[] v = new float[size(name)];
          for (int i = 0; i < v.length; i++) {
            v[i] = (float) rnd.nextGaussian() * 0.3f;
          }
          g.put(name, v);
        }
        push.add(g);
      }
      out.add(push);
    }
    return out;
  }

  private static int size(String name) {
    return (int) SHAPES[List.of(NAMES).indexOf(name)][0];
  }

  private static TensorDef[] tensorDefs() {
    TensorDef[] defs = new TensorDef[NAMES.length];
    for (int t = 0; t < NAMES.length; t++) {
      defs[t] = Tensors.of(NAMES[t], SHAPES[t]).init(normal(0.1, 60 + t));
    }
    return defs;
  }

  /** The in-process optimizer under the same schedule; records its state after step AT - 1. */
  private static List<Map<String, float[]>> local() {
    ExecutorService pool = Executors.newFixedThreadPool(1);
    try {
      Map<TensorShape, float[]> init = new LinkedHashMap<>();
      for (int t = 0; t < NAMES.length; t++) {
        float[] v = new float[(int) SHAPES[t][0]];
        InitialValues.fill(normal(0.1, 60 + t), 0, v);
        init.put(new TensorShape(NAMES[t], SHAPES[t]), v);
      }
      LocalOptimizer opt = new LocalOptimizer(START, init, TRAINERS, new ParallelApply(pool, 2, 1));
      List<Map<String, float[]>> out = new ArrayList<>();
      for (int s = 0; s < STEPS; s++) {
        for (Change c : CHANGES) {
          if (c.atStep() == s) {
            opt.setPipeline(c.pipeline());
          }
        }
        opt.push(grads.get(s));
        out.add(opt.parameters());
        if (s == AT - 1) {
          expectedStateAtCheckpoint = new LinkedHashMap<>();
          for (String name : NAMES) {
            expectedStateAtCheckpoint.put(name, opt.state(name));
          }
        }
      }
      return out;
    } finally {
      pool.shutdownNow();
    }
  }
}
