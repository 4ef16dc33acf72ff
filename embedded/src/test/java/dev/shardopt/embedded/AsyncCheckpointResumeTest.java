package dev.shardopt.embedded;

import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.checkpoint.CheckpointReader;
import dev.shardopt.client.CheckpointInfo;
import dev.shardopt.client.ClientOptions;
import dev.shardopt.client.Initializers;
import dev.shardopt.client.ModelOptions;
import dev.shardopt.client.RemoteModel;
import dev.shardopt.client.ShardoptCluster;
import dev.shardopt.client.Tensors;
import dev.shardopt.client.Trainer;
import dev.shardopt.coordinator.CoordinatorConfig;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.v1.CheckpointManifest;
import dev.shardopt.v1.Model;
import dev.shardopt.v1.TrainingMode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Checkpoints of ASYNC models through real embedded clusters, taken while the trainers push: the
 * checkpoint is a cut of the trainers' pushes (per trainer r, its pushes 0 .. next_push[r]-1 are in
 * it on every shard, no later one), and a restore on any number of workers continues from each
 * trainer's next push, exactly once.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class AsyncCheckpointResumeTest {
  @TempDir static Path dir;
  private static ExecutorService threads;

  @BeforeAll
  static void start() {
    threads = Executors.newCachedThreadPool();
  }

  @AfterAll
  static void stop() {
    threads.shutdownNow();
  }

  /** Shards of one reduction block (8192 elements) each, so every tensor below spans several workers. */
  private static ShardoptCluster local(int workers) {
    EmbeddedCluster.Builder b = EmbeddedCluster.builder().workers(workers)
        .coordinator(CoordinatorConfig.defaults().withMaxShardBlocks(1))
        .worker((i, cfg) -> cfg.withThreads(1 + i % 2).withWaitMillis(30_000));
    return ShardoptLocal.start(b, ClientOptions.defaults().rpcDeadline(Duration.ofSeconds(40)));
  }

  // ------------------------------------------------------------------ one trainer: bitwise

  private static final int STEPS = 48;
  private static final int NAN_AT = 7;
  private static final Pipeline ADAM =
      Pipeline.parse("adam(0.01).warmup(5).cosine(48).clipNorm(1.0).skipNonFinite()");
  /** Registered before the checkpoint, in force after its cut: the checkpoint carries it. */
  private static final Pipeline LATER = Pipeline.parse("adam(0.005).warmup(5).cosine(48).clipNorm(0.5).skipNonFinite()");
  private static final int LATER_AT = 40;
  /** The trainer waits for the checkpoint before this push. */
  private static final int CHECKPOINTED_BY = 30;

  private static Map<String, float[]> gradient(int step) {
    Random r = new Random(500 + step);
    Map<String, float[]> g = new LinkedHashMap<>();
    for (var e : Map.of("a", 20_000, "b", 7).entrySet().stream().sorted(Map.Entry.comparingByKey()).toList()) {
      float[] v = new float[e.getValue()];
      for (int i = 0; i < v.length; i++) {
        v[i] = step == NAN_AT && i == 3 ? Float.NaN : (float) r.nextGaussian();
      }
      g.put(e.getKey(), v);
    }
    return g;
  }

  /** Pushes {@code from .. to-1}, pulling after each: the parameters after push s at index s+1 of {@code out}. */
  private static void train(RemoteModel model, Trainer t, int from, int to, Map<Integer, Map<String, float[]>> out) {
    for (int s = from; s < to; s++) {
      assertThat(t.push(s, gradient(s)).duplicate()).isFalse();
      out.put(s + 1, model.pull(s + 1));
    }
  }

  @Test
  void oneTrainerCheckpointedMidRunAndRestoredOnOneAndThreeWorkersEndsBitwiseAsTheUninterruptedRun() throws Exception {
    Path root = dir.resolve("one");
    Map<Integer, Map<String, float[]>> uninterrupted = new LinkedHashMap<>();
    CheckpointInfo info;
    try (ShardoptCluster cluster = local(2)) {
      RemoteModel model = cluster.createModel(ModelOptions.named("one").pipeline(ADAM).trainers(1).async()
          .tensors(Tensors.of("a", 20_000).init(Initializers.normal(0.1, 3)), Tensors.of("b", 7)));
      model.updatePipeline(LATER, LATER_AT);
      Trainer t = model.trainer(0, 1);
      train(model, t, 0, 12, uninterrupted);
      Future<CheckpointInfo> checkpoint = threads.submit(() -> model.checkpoint(root)); // while the trainer pushes
      train(model, t, 12, CHECKPOINTED_BY, uninterrupted);
      info = checkpoint.get(60, TimeUnit.SECONDS); // so that the cut falls mid-run however slow the machine
      train(model, t, CHECKPOINTED_BY, STEPS, uninterrupted);
      assertThat(model.describe().getStepsSkipped()).isEqualTo(1); // the NaN push
    }
    long cut = info.nextPush().get(0);
    assertThat(info.nextPush()).hasSize(1);
    assertThat(cut).isBetween(12L, (long) CHECKPOINTED_BY);
    assertThat(info.step()).isEqualTo(cut);
    assertThat(Path.of(info.path())).isEqualTo(root.resolve(String.format("step-%010d", cut)));

    try (CheckpointReader r = CheckpointReader.open(Path.of(info.path()))) {
      r.verify();
      CheckpointManifest m = r.manifest();
      assertThat(m.getMode()).isEqualTo(TrainingMode.ASYNC);
      assertThat(m.getNextPushList()).containsExactly(cut);
      assertThat(m.getUpdatesApplied()).isEqualTo(cut - 1); // every push applied but the NaN one
      assertThat(m.getStepsSkipped()).isEqualTo(1);
      assertThat(m.getPipelineSchedule().getGenerationsList()).extracting(g -> g.getFromStep())
          .containsExactly(0L, (long) LATER_AT);
      // the copy is the parameters after exactly `cut` pushes, as the uninterrupted run pulled them
      assertThat(r.readAll("a", "")).isEqualTo(uninterrupted.get((int) cut).get("a"));
      assertThat(r.readAll("b", "")).isEqualTo(uninterrupted.get((int) cut).get("b"));
    }

    for (int workers : new int[] {1, 3}) {
      try (ShardoptCluster cluster = local(workers)) {
        RemoteModel model = cluster.restoreModel("resumed", root);
        assertThat(model.startStep(0)).isEqualTo(cut);
        Model described = model.describe();
        assertThat(described.getNextPushList()).containsExactly(cut);
        assertThat(described.getStep()).isEqualTo(cut);
        assertThat(described.getUpdatesApplied()).isEqualTo(cut - 1);
        Trainer t = model.trainer(0, 1);
        assertThat(t.nextStep()).isEqualTo(cut);
        Map<Integer, Map<String, float[]>> resumed = new LinkedHashMap<>();
        train(model, t, (int) cut, STEPS, resumed);
        for (int s = (int) cut + 1; s <= STEPS; s++) {
          for (String name : List.of("a", "b")) {
            assertThat(resumed.get(s).get(name)).as("%d workers, after push %d, %s", workers, s, name)
                .isEqualTo(uninterrupted.get(s).get(name));
          }
        }
        assertThat(model.describe().getUpdatesApplied()).isEqualTo(STEPS - 1);
      }
    }
  }

  // ------------------------------------------------------------------ two trainers: exactly once

  private static final int PUSHES = 40;
  /** Each trainer waits before this push until the checkpoint is complete, so that the cut falls mid-run. */
  private static final int WAIT_AT = 25;
  private static final int N = 3 * 8192 + 11;

  /** Trainer r's gradient: 1 at the elements i with i % 2 == r, 0 elsewhere; sgd(1.0) on zeros counts its pushes. */
  private static Map<String, float[]> counting(int trainer) {
    float[] g = new float[N];
    for (int i = trainer; i < N; i += 2) {
      g[i] = 1;
    }
    return Map.of("w", g);
  }

  /** Asserts every element i is minus {@code applied[i % 2]}: each shard applied exactly those pushes of each trainer. */
  private static void assertCounts(float[] w, long... applied) {
    for (int i = 0; i < N; i++) {
      if (w[i] != -applied[i % 2]) {
        throw new AssertionError("element " + i + " is " + w[i] + ", expected " + -applied[i % 2] + " (pushes applied "
            + Arrays.toString(applied) + ")");
      }
    }
  }

  /** Both trainers push {@code from[r] .. PUSHES-1} at once; before push WAIT_AT each waits for {@code mid}. */
  private static void trainBoth(RemoteModel model, long[] from, CountDownLatch started, CountDownLatch mid)
      throws Exception {
    List<Future<?>> running = new ArrayList<>();
    for (int r = 0; r < 2; r++) {
      Trainer t = model.trainer(r, 2);
      int rank = r;
      running.add(threads.submit(() -> {
        for (long s = from[rank]; s < PUSHES; s++) {
          if (s == WAIT_AT) {
            assertThat(mid.await(60, TimeUnit.SECONDS)).isTrue();
          }
          assertThat(t.push(s, counting(rank)).duplicate()).isFalse();
          if (rank == 0 && s == 10) {
            started.countDown();
          }
        }
        return null;
      }));
    }
    for (Future<?> f : running) {
      f.get(120, TimeUnit.SECONDS);
    }
  }

  @Test
  void twoTrainersCheckpointedMidRunContinueFromTheirNextPushesAndNoPushIsAppliedTwiceOrLost() throws Exception {
    Path root = dir.resolve("two");
    Pipeline sgd = Pipeline.parse("sgd(1.0)");
    CheckpointInfo info;
    try (ShardoptCluster cluster = local(2)) {
      RemoteModel model = cluster.createModel(ModelOptions.named("two").pipeline(sgd).trainers(2).async()
          .tensors(Tensors.of("w", N)));
      CountDownLatch started = new CountDownLatch(1);
      CountDownLatch checkpointed = new CountDownLatch(1);
      Future<CheckpointInfo> checkpoint = threads.submit(() -> {
        assertThat(started.await(60, TimeUnit.SECONDS)).isTrue();
        try {
          return model.checkpoint(root);
        } finally {
          checkpointed.countDown();
        }
      });
      trainBoth(model, new long[] {0, 0}, started, checkpointed);
      info = checkpoint.get(60, TimeUnit.SECONDS);
      assertCounts(model.pull().get("w"), PUSHES, PUSHES);
      assertThat(model.describe().getUpdatesApplied()).isEqualTo(2 * PUSHES);
    }
    long p0 = info.nextPush().get(0);
    long p1 = info.nextPush().get(1);
    assertThat(p0).isBetween(11L, (long) WAIT_AT);
    assertThat(p1).isBetween(0L, (long) WAIT_AT);
    assertThat(info.step()).isEqualTo(p0 + p1);
    try (CheckpointReader r = CheckpointReader.open(Path.of(info.path()))) {
      r.verify();
      assertThat(r.manifest().getNextPushList()).containsExactly(p0, p1);
      assertThat(r.manifest().getUpdatesApplied()).isEqualTo(p0 + p1);
      assertCounts(r.readAll("w", ""), p0, p1); // on every shard, exactly the pushes below the cut
    }

    try (ShardoptCluster cluster = local(3)) {
      RemoteModel model = cluster.restoreModel("two-resumed", root);
      assertThat(model.startStep(0)).isEqualTo(p0);
      assertThat(model.startStep(1)).isEqualTo(p1);
      assertThat(model.trainer(1, 2).nextStep()).isEqualTo(p1);
      assertThat(model.describe().getNextPushList()).containsExactly(p0, p1);
      assertCounts(model.pull().get("w"), p0, p1);

      trainBoth(model, new long[] {p0, p1}, new CountDownLatch(1), new CountDownLatch(0));
      assertCounts(model.pull().get("w"), PUSHES, PUSHES);
      Model after = model.describe();
      assertThat(after.getUpdatesApplied()).isEqualTo(2 * PUSHES); // the restored p0 + p1 and every push since
      assertThat(after.getNextPushList()).containsExactly((long) PUSHES, (long) PUSHES);
      assertThat(after.getDuplicates()).isZero();

      // a push from before the cut, sent again, and the last one, sent again: recognised, not applied
      assertThat(model.trainer(0, 2).push(p0 - 1, counting(0)).duplicate()).isTrue();
      assertThat(model.trainer(1, 2).push(PUSHES - 1, counting(1)).duplicate()).isTrue();
      assertCounts(model.pull().get("w"), PUSHES, PUSHES);
      Model replayed = model.describe();
      assertThat(replayed.getUpdatesApplied()).isEqualTo(2 * PUSHES);
      assertThat(replayed.getDuplicates()).isEqualTo(2 * 3); // each of the 3 workers acknowledged both
    }
  }
}
