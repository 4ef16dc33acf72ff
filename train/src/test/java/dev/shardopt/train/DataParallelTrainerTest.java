package dev.shardopt.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.shardopt.client.ClientOptions;
import dev.shardopt.client.ShardoptCluster;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.embedded.EmbeddedCluster;
import dev.shardopt.embedded.ShardoptLocal;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** End to end through an embedded cluster of 2 workers, with 2 trainer threads. */
class DataParallelTrainerTest {
  private static ShardoptCluster cluster;
  private static final DigitsData DATA = DigitsData.load();

  @BeforeAll
  static void start() {
    cluster = ShardoptLocal.start(EmbeddedCluster.builder().workers(2), ClientOptions.defaults());
  }

  @AfterAll
  static void stop() {
    cluster.close();
  }

  /**
   * 300 steps of batch 64 (about 13 epochs) reach at least 0.93 test accuracy (the default 800 steps of batch
   * 128 reach about 0.98); the test accuracy is measured every 30 steps and after the last.
   */
  @Test
  void aShortRunLearnsTheDigits() throws Exception {
    TrainingConfig c = TrainingConfig.defaults(Pipeline.parse("adam(2e-3).warmup(30).cosine(300).clipNorm(1.0)"))
        .withSteps(300).withBatch(64).withHidden(64).withEvalEvery(30);
    List<DataParallelTrainer.Progress> progress = new ArrayList<>();
    TrainingReport r = DataParallelTrainer.forDigits(DATA, c).train(cluster, "dpt-short", c, progress::add);

    assertThat(r.accuracy()).isGreaterThanOrEqualTo(0.93);
    assertThat(r.correct()).isEqualTo((int) Math.round(r.accuracy() * 359));
    assertThat(r.testSize()).isEqualTo(359);
    assertThat(r.losses()).hasSize(300);
    assertThat(r.losses()[0]).isGreaterThan(1.5); // about ln 10 at the start
    assertThat(r.finalLoss()).isLessThan(0.3);
    assertThat(r.evalSteps()).containsExactly(0, 30, 60, 90, 120, 150, 180, 210, 240, 270, 300);
    assertThat(r.evalAccuracy()[r.evalAccuracy().length - 1]).isEqualTo(r.accuracy());
    assertThat(r.metrics()).hasSize(300);
    assertThat(r.metrics().get(0).gradientNorm()).isGreaterThan(0);
    assertThat(r.metrics()).allSatisfy(m -> assertThat(m.clippedNorm()).isLessThanOrEqualTo(1.0 + 1e-6));
    assertThat(progress).isNotEmpty();
    assertThat(progress.get(progress.size() - 1).completed()).isEqualTo(300);
    assertThat(cluster.listModels()).doesNotContain("dpt-short"); // deleted at the end
  }

  @Test
  void aDivergingRunStopsWithItsStep() {
    TrainingConfig c = TrainingConfig.defaults(Pipeline.parse("sgd(1e30)")).withSteps(20).withBatch(32).withHidden(16);
    assertThatThrownBy(() -> DataParallelTrainer.forDigits(DATA, c).train(cluster, "dpt-diverge", c, p -> { }))
        .isInstanceOf(TrainingDivergedException.class)
        .hasMessageContaining("the training diverged at step");
    assertThat(cluster.listModels()).doesNotContain("dpt-diverge");
  }

  /** With skipNonFinite() the trainers push the non-finite gradients and the server skips those steps. */
  @Test
  void skipNonFiniteLetsTheServerSkipTheSteps() throws Exception {
    TrainingConfig c = TrainingConfig.defaults(Pipeline.parse("sgd(1e30).skipNonFinite()")).withSteps(8).withBatch(32)
        .withHidden(16);
    TrainingReport r = DataParallelTrainer.forDigits(DATA, c).train(cluster, "dpt-skip", c, p -> { });
    assertThat(r.metrics()).hasSize(8);
    assertThat(r.metrics().stream().filter(m -> m.skipped()).count()).isGreaterThan(0);
  }

  /** Same seed, same data order, same initial parameters: two runs give the same losses, bit for bit. */
  @Test
  void runsAreReproducible() throws Exception {
    TrainingConfig c = TrainingConfig.defaults(Pipeline.parse("momentum(0.05)")).withSteps(20).withBatch(32).withHidden(16);
    DataParallelTrainer t = DataParallelTrainer.forDigits(DATA, c);
    TrainingReport a = t.train(cluster, "dpt-repro-a", c, p -> { });
    TrainingReport b = t.train(cluster, "dpt-repro-b", c, p -> { });
    assertThat(a.losses()).containsExactly(b.losses());
    assertThat(a.correct()).isEqualTo(b.correct());
  }
}
