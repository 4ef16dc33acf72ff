package dev.shardopt.cli.watch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.shardopt.v1.ClusterStatus;
import dev.shardopt.v1.Model;
import dev.shardopt.v1.ModelState;
import dev.shardopt.v1.StepMetrics;
import dev.shardopt.v1.TrainingMode;
import dev.shardopt.v1.WorkerStatus;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class WatchStateTest {
  private static final long SECOND = 1_000_000_000L;

  private static ClusterStatus status(long step, long skipped, long duplicates) {
    return ClusterStatus.newBuilder()
        .addWorkers(WorkerStatus.newBuilder().setName("workers/w1").setAddress("10.0.0.1:7071").setHealthy(true)
            .setMillisSinceHeartbeat(120).setShards(3))
        .addWorkers(WorkerStatus.newBuilder().setName("workers/w2").setAddress("10.0.0.2:7071").setHealthy(false)
            .setMillisSinceHeartbeat(4000).setShards(2))
        .addModels(Model.newBuilder().setName("models/m").setMode(TrainingMode.SYNC).setState(ModelState.READY)
            .setStep(step).setStepsSkipped(skipped).setDuplicates(duplicates))
        .build();
  }

  /** Steps from..to-1 with gradient norm 10 + step and learning rate step / 1000. */
  private static List<StepMetrics> steps(long from, long to) {
    List<StepMetrics> out = new ArrayList<>();
    for (long s = from; s < to; s++) {
      out.add(StepMetrics.newBuilder().setStep(s).setGradientNorm(10 + s).setLearningRate(s / 1000.0).build());
    }
    return out;
  }

  @Test
  void stepsPerSecondOverTheWindow() {
    WatchState state = new WatchState("c:1", 100, 10 * SECOND);
    state.add(ClusterSample.of(5 * SECOND, status(0, 0, 0), Map.of()));
    assertThat(state.view().models().get(0).stepsPerSecond()).isNaN(); // one sample: no rate yet
    state.add(ClusterSample.of(6 * SECOND, status(4, 0, 0), Map.of()));
    state.add(ClusterSample.of(7 * SECOND, status(10, 0, 0), Map.of()));
    // (10 - 0) steps in 2 s
    assertThat(state.view().models().get(0).stepsPerSecond()).isEqualTo(5.0);

    WatchState narrow = new WatchState("c:1", 100, 1_500_000_000L);
    narrow.add(ClusterSample.of(5 * SECOND, status(0, 0, 0), Map.of()));
    narrow.add(ClusterSample.of(6 * SECOND, status(4, 0, 0), Map.of()));
    narrow.add(ClusterSample.of(7 * SECOND, status(10, 0, 0), Map.of()));
    // the 5 s sample is 2 s before the newest, outside 1.5 s: (10 - 4) steps in 1 s
    assertThat(narrow.view().models().get(0).stepsPerSecond()).isEqualTo(6.0);
    narrow.add(ClusterSample.of(7_250_000_000L, status(11, 0, 0), Map.of()));
    // 6 s and 7 s are within 1.5 s of 7.25 s: (11 - 4) / 1.25
    assertThat(narrow.view().models().get(0).stepsPerSecond()).isCloseTo(5.6, within(1e-12));
  }

  @Test
  void keepsTheLatestHistoryStepsAndAsksOnlyForNewOnes() {
    WatchState state = new WatchState("c:1", 5, 10 * SECOND);
    // nothing held: the last 5 steps of a model at step 10 are 6..10
    assertThat(state.of("models/m", 10)).isEqualTo(6);
    assertThat(state.of("models/m", 2)).isEqualTo(0);
    state.add(ClusterSample.of(SECOND, status(10, 0, 0), Map.of("models/m", steps(3, 11))));
    ClusterView.ModelRow m = state.view().models().get(0);
    assertThat(m.gradientNorms()).containsExactly(16.0, 17.0, 18.0, 19.0, 20.0);
    assertThat(m.learningRates()).containsExactly(0.006, 0.007, 0.008, 0.009, 0.010);
    assertThat(state.of("models/m", 12)).isEqualTo(11); // after the newest held
    assertThat(state.of("models/m", 40)).isEqualTo(36); // but never more than 5 back
    state.add(ClusterSample.of(2 * SECOND, status(12, 0, 0), Map.of("models/m", steps(11, 13))));
    assertThat(state.view().models().get(0).gradientNorms()).containsExactly(18.0, 19.0, 20.0, 21.0, 22.0);
  }

  @Test
  void aModelCreatedAgainStartsOverAndADeletedOneGoes() {
    WatchState state = new WatchState("c:1", 5, 10 * SECOND);
    state.add(ClusterSample.of(SECOND, status(10, 0, 0), Map.of("models/m", steps(6, 11))));
    state.add(ClusterSample.of(2 * SECOND, status(2, 0, 0), Map.of("models/m", steps(0, 3))));
    ClusterView.ModelRow m = state.view().models().get(0);
    assertThat(m.gradientNorms()).containsExactly(10.0, 11.0, 12.0);
    assertThat(m.stepsPerSecond()).isNaN();
    assertThat(state.of("models/m", 2)).isEqualTo(3); // the new model's 0..2 are held
    assertThat(state.of("models/m", 1)).isEqualTo(0); // a step below the last one seen: nothing held counts

    state.add(ClusterSample.of(3 * SECOND, status(0, 0, 0).toBuilder().clearModels().build(), Map.of()));
    assertThat(state.view().models()).isEmpty();
    assertThat(state.of("models/m", 3)).isEqualTo(0);
  }

  @Test
  void showsWorkersCountsAndAnUnreachableCoordinatorOverItsLastAnswer() {
    WatchState state = new WatchState("c:1", 5, 10 * SECOND);
    assertThat(state.view().error()).isEqualTo("no sample yet");
    state.add(ClusterSample.of(SECOND, status(7, 2, 3), Map.of()));
    ClusterView view = state.view();
    assertThat(view.error()).isNull();
    assertThat(view.workers()).containsExactly(new ClusterView.WorkerRow("workers/w1", "10.0.0.1:7071", true, 120, 3),
        new ClusterView.WorkerRow("workers/w2", "10.0.0.2:7071", false, 4000, 2));
    assertThat(view.healthyWorkers()).isEqualTo(1);
    ClusterView.ModelRow m = view.models().get(0);
    assertThat(List.of(m.name(), m.mode(), m.state())).containsExactly("models/m", "SYNC", "READY");
    assertThat(List.of(m.step(), m.skipped(), m.duplicates())).containsExactly(7L, 2L, 3L);

    state.add(ClusterSample.failed(2 * SECOND, "UNAVAILABLE: io exception"));
    view = state.view();
    assertThat(view.error()).isEqualTo("UNAVAILABLE: io exception");
    assertThat(view.samples()).isEqualTo(2);
    assertThat(view.models()).extracting(ClusterView.ModelRow::step).containsExactly(7L);
  }
}
