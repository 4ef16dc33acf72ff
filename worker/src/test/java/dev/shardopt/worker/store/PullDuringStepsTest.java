package dev.shardopt.worker.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.dsl.Pipeline;
import dev.shardopt.v1.TrainingMode;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Pulls read chunk by chunk, slowly, while a trainer keeps stepping the model: every pull must
 * return exactly its version, the chunks copied before the first of them was sent and those copied
 * only when a step was about to change the parameters alike.
 */
class PullDuringStepsTest {
  private static final int N = 3_000;
  private static final int CHUNK = 100; // 30 chunks per version
  private static final int STEPS = 150;
  private final TestModels models = new TestModels();

  @AfterEach
  void stop() {
    models.close();
  }

  @Test
  void everyPullHoldsItsVersionWhileStepsRunPastIt() throws Exception {
    Pipeline p = Pipeline.parse("sgd(1.0)");
    float[] init = new float[N];
    for (int i = 0; i < N; i++) {
      init[i] = i;
    }
    WorkerModel m = models.model(p, 1, TrainingMode.ASYNC, 0, new FakeCoordinator(p, List.of("w")), List.of("w"), init);
    float[][] ones = {new float[N]};
    java.util.Arrays.fill(ones[0], 1f);
    // sgd(1.0) with gradient 1: after k steps element i is exactly i - k
    CompletableFuture<Void> trainer = CompletableFuture.runAsync(() -> {
      try {
        for (int s = 0; s < STEPS; s++) {
          TestModels.push(m, 0, s, ones);
          Thread.sleep(1);
        }
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });
    int pulls = 0;
    int overtaken = 0;
    while (!trainer.isDone() || pulls == 0) {
      ParameterSnapshot snap = m.pull(m.version(), List.of(), 5000, CHUNK).get(10, TimeUnit.SECONDS);
      float[] got = new float[N];
      for (int c = 0; c < snap.chunkCount(0); c++) {
        dev.shardopt.rpc.TensorBytes.decode(snap.chunk(0, c), got, c * CHUNK);
        if (c % 10 == 9) {
          Thread.sleep(1); // a slow reader: steps run between its chunks
        }
      }
      if (m.version() > snap.step()) {
        overtaken++;
      }
      snap.release();
      for (int i = 0; i < N; i++) {
        if (got[i] != i - snap.step()) {
          throw new AssertionError("pull of version " + snap.step() + ": element " + i + " is " + got[i]
              + ", not " + (i - snap.step()) + " (version now " + m.version() + ")");
        }
      }
      pulls++;
    }
    trainer.get(10, TimeUnit.SECONDS);
    assertThat(m.version()).isEqualTo(STEPS);
    assertThat(overtaken).as("pulls that steps overtook while they were read (of %d)", pulls).isGreaterThanOrEqualTo(10);
    assertThat(m.snapshotsInUse()).isZero();
  }
}
