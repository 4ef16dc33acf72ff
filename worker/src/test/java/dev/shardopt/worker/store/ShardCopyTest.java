package dev.shardopt.worker.store;

import static dev.shardopt.worker.store.TestModels.pull;
import static dev.shardopt.worker.store.TestModels.push;
import static dev.shardopt.worker.store.TestModels.pushByEpoch;
import static dev.shardopt.worker.store.TestModels.refused;
import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.dsl.Pipeline;
import dev.shardopt.rpc.ApiException;
import dev.shardopt.v1.TrainingMode;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Re-replication on one worker's side, without gRPC: a source holds the pushes of the copy's step,
 * sends its parameters and optimizer state there, and refuses pushes sent by the older map once it
 * takes the new epoch; a copy written from that continues bitwise as its source and as a model
 * that was never copied.
 */
class ShardCopyTest {
  private static final Pipeline ADAM = Pipeline.parse("adam(0.1)");
  private static final List<String> NAMES = List.of("w", "b");
  private final TestModels models = new TestModels();

  @AfterEach
  void stop() {
    models.close();
  }

  private WorkerModel source(FakeCoordinator[] c) {
    c[0] = new FakeCoordinator(ADAM, NAMES);
    return models.model(ADAM, 2, TrainingMode.SYNC, 0, c[0], NAMES, new float[] {0.5f, -1f, 2f}, new float[] {0.25f});
  }

  /** Trainer r's gradient at step s (any fixed function of both). */
  private static float[][] grad(int r, long s) {
    return new float[][] {{0.3f * (r + 1) - 0.05f * s, -0.7f + 0.11f * s * r, 1.3f / (s + 1)}, {0.9f - 0.2f * r}};
  }

  private static void step(WorkerModel m, long s) throws Exception {
    push(m, 0, s, grad(0, s));
    push(m, 1, s, grad(1, s));
  }

  private record Run(String tensor, String slot, long offset, float[] values) {}

  private static List<Run> send(WorkerModel source, long step) {
    List<Run> runs = new ArrayList<>();
    // 2 floats a run: a shard's arrays arrive in several runs
    source.sendCopy(step, List.of(new long[] {0, 0}, new long[] {1, 0}), 2,
        (shard, slot, offset, values, n) -> runs.add(new Run(shard.name(), slot, offset, Arrays.copyOf(values, n))));
    return runs;
  }

  @Test
  void aCopyTakenAtAStepBoundaryWhileTheSourceHoldsLaterPushesContinuesBitwiseAsItsSource() throws Exception {
    FakeCoordinator[] sc = new FakeCoordinator[1];
    WorkerModel source = source(sc);
    FakeCoordinator[] rc = new FakeCoordinator[1];
    WorkerModel never = source(rc); // the same steps, never copied
    for (long s = 0; s < 3; s++) {
      step(source, s);
      step(never, s);
    }
    pull(source, 3);
    source.holdForCopy(3, List.of(new long[] {0, 0}, new long[] {1, 0}), 5000).get(10, TimeUnit.SECONDS);
    CompletableFuture<PushAck> held = pushByEpoch(source, 0, 3, grad(0, 3), 0); // by the old map
    Thread.sleep(50);
    assertThat(held).as("a push of the copy's step waits while the copy is taken").isNotDone();

    List<Run> runs = send(source, 3);
    assertThat(runs).extracting(Run::slot).containsOnly("", "exp_avg", "exp_avg_sq");
    FakeCoordinator cc = new FakeCoordinator(ADAM, NAMES);
    cc.continueFrom(3, source.updatesApplied());
    WorkerModel copy = models.copy(ADAM, 2, cc, NAMES, new int[] {3, 1}, 3, source.updatesApplied(),
        source.stepsSkipped());
    assertThat(refused(() -> pushByEpoch(copy, 0, 3, grad(0, 3), 1).get(5, TimeUnit.SECONDS)).code())
        .as("an uncommitted copy serves nothing").isEqualTo(Status.Code.UNAVAILABLE);
    for (Run r : runs) {
      copy.writeCopy(r.tensor(), r.slot(), r.offset(), r.values());
    }
    copy.commitCopy(3, 1, false);
    source.commitCopy(3, 1, false);

    ApiException stale = refused(() -> held.get(5, TimeUnit.SECONDS));
    assertThat(stale.code()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(stale).hasMessageContaining("by shard map epoch 0, but the map is at epoch 1");
    for (long s = 3; s < 6; s++) {
      for (int r = 0; r < 2; r++) {
        pushByEpoch(source, r, s, grad(r, s), 1).get(5, TimeUnit.SECONDS);
        pushByEpoch(copy, r, s, grad(r, s), 1).get(5, TimeUnit.SECONDS);
      }
      step(never, s);
    }
    float[][] want = pull(never, 6);
    assertThat(pull(source, 6)).isDeepEqualTo(want);
    assertThat(pull(copy, 6)).as("the copy's parameters after 3 more Adam steps").isDeepEqualTo(want);
    assertThat(copy.updatesApplied()).isEqualTo(6);
    assertThat(copy.version()).isEqualTo(6);
  }

  @Test
  void aHoldIsRefusedOnceAPushOfItsStepIsAdmittedOrWhereTheWorkerHoldsNoSuchShard() throws Exception {
    FakeCoordinator[] sc = new FakeCoordinator[1];
    WorkerModel source = source(sc);
    step(source, 0);
    push(source, 0, 1, grad(0, 1));
    ApiException late = refused(() -> source.holdForCopy(1, List.of(new long[] {0, 0}), 5000).get(5, TimeUnit.SECONDS));
    assertThat(late.code()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(late).hasMessage("models/m has admitted pushes of step 1 on this worker; a copy at step 1 must begin"
        + " before its first push: choose a later step");
    ApiException elsewhere = refused(() -> source.holdForCopy(4, List.of(new long[] {0, 7}), 5000).get(5, TimeUnit.SECONDS));
    assertThat(elsewhere.code()).isEqualTo(Status.Code.NOT_FOUND);
  }

  /**
   * A coordinator killed mid-copy never ends its sources' holds; its successor's copy takes them
   * over instead of being refused until they expire: at the same step the held pushes stay held for
   * the new copy, at another the old hold ends as an abort (its pushes admitted as they are).
   */
  @Test
  void aNewCopyTakesOverAHoldItsCoordinatorNeverEnded() throws Exception {
    FakeCoordinator[] sc = new FakeCoordinator[1];
    WorkerModel source = source(sc);
    step(source, 0);
    source.holdForCopy(1, List.of(new long[] {0, 0}), 5000).get(5, TimeUnit.SECONDS);
    CompletableFuture<PushAck> a = pushByEpoch(source, 0, 1, grad(0, 1), 0);

    // the same step again (a restarted coordinator): the push stays held, for the new copy
    source.holdForCopy(1, List.of(new long[] {0, 0}), 5000).get(5, TimeUnit.SECONDS);
    Thread.sleep(50);
    assertThat(a).as("a push of the step stays held for the copy that took the hold over").isNotDone();

    // a later step: the old hold ends as an abort would end it, and the new one holds from step 2
    CompletableFuture<Void> later = source.holdForCopy(2, List.of(new long[] {0, 0}), 5000);
    CompletableFuture<PushAck> b = pushByEpoch(source, 1, 1, grad(1, 1), 0);
    assertThat(a.get(5, TimeUnit.SECONDS)).as("admitted once the old hold ended").isEqualTo(new PushAck(1, false, 1));
    assertThat(b.get(5, TimeUnit.SECONDS).step()).isEqualTo(1);
    later.get(5, TimeUnit.SECONDS); // step 1 completed: the copy at 2 can be read
    CompletableFuture<PushAck> c = pushByEpoch(source, 0, 2, grad(0, 2), 0);
    Thread.sleep(50);
    assertThat(c).as("a push of the new hold's step waits").isNotDone();
    ApiException old = refused(() -> {
      source.commitCopy(1, 1, false);
      return null;
    });
    assertThat(old).hasMessageContaining("no longer holds its pushes of step 1");
    source.commitCopy(2, 1, true); // the new copy aborted: the push is admitted as it is
    assertThat(c.get(5, TimeUnit.SECONDS).step()).isEqualTo(2);
  }

  @Test
  void aHoldThatEndsByItselfAdmitsTheHeldPushesAsTheyAreAndTheCommitThenFails() throws Exception {
    FakeCoordinator[] sc = new FakeCoordinator[1];
    WorkerModel source = source(sc);
    step(source, 0);
    source.holdForCopy(1, List.of(new long[] {0, 0}), 100).get(5, TimeUnit.SECONDS);
    CompletableFuture<PushAck> a = pushByEpoch(source, 0, 1, grad(0, 1), 0);
    CompletableFuture<PushAck> b = pushByEpoch(source, 1, 1, grad(1, 1), 0);
    assertThat(a.get(5, TimeUnit.SECONDS)).isEqualTo(new PushAck(1, false, 1));
    b.get(5, TimeUnit.SECONDS);
    assertThat(pull(source, 2)).isNotNull();
    ApiException late = refused(() -> {
      source.commitCopy(1, 1, false);
      return null;
    });
    assertThat(late.code()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(late).hasMessageContaining("no longer holds its pushes of step 1");
  }

  /**
   * A coordinator killed between two sources' commits repeats the commit after its restart: the same
   * step and epoch are answered as done (no push of the step was admitted by the old map), any other
   * commit of an ended hold still fails.
   */
  @Test
  void aCommitRepeatedAfterItEndedTheHoldIsAnsweredAsDoneAndNoOtherIs() throws Exception {
    FakeCoordinator[] sc = new FakeCoordinator[1];
    WorkerModel source = source(sc);
    step(source, 0);
    source.holdForCopy(1, List.of(new long[] {0, 0}), 5000).get(5, TimeUnit.SECONDS);
    CompletableFuture<PushAck> old = pushByEpoch(source, 0, 1, grad(0, 1), 0);
    source.commitCopy(1, 2, false);
    assertThat(refused(() -> old.get(5, TimeUnit.SECONDS))).hasMessageContaining("the map is at epoch 2");

    source.commitCopy(1, 2, false); // repeated by a restarted coordinator: done already
    for (long[] other : new long[][] {{1, 3}, {2, 2}}) {
      ApiException e = refused(() -> {
        source.commitCopy(other[0], other[1], false);
        return null;
      });
      assertThat(e.code()).as("step %s epoch %s", other[0], other[1]).isEqualTo(Status.Code.FAILED_PRECONDITION);
      assertThat(e).hasMessageContaining("no longer holds its pushes of step " + other[0]);
    }
    // a later hold that ends by itself: the old commit is no longer the last hold's
    pushByEpoch(source, 0, 1, grad(0, 1), 2).get(5, TimeUnit.SECONDS);
    pushByEpoch(source, 1, 1, grad(1, 1), 2).get(5, TimeUnit.SECONDS);
    source.holdForCopy(2, List.of(new long[] {0, 0}), 50).get(5, TimeUnit.SECONDS);
    Thread.sleep(200);
    assertThat(refused(() -> {
      source.commitCopy(1, 2, false);
      return null;
    }).code()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(refused(() -> {
      source.commitCopy(2, 2, false);
      return null;
    })).hasMessageContaining("no longer holds its pushes of step 2");
  }

  @Test
  void anIncompleteCopyIsNotCommittedAndAnUnknownSlotIsRefused() throws Exception {
    WorkerModel copy = models.copy(ADAM, 2, new FakeCoordinator(ADAM, NAMES), NAMES, new int[] {3, 1}, 4, 4, 0);
    copy.writeCopy("w", "", 0, new float[] {1, 2, 3});
    ApiException slot = refused(() -> {
      copy.writeCopy("w", "velocity", 0, new float[] {1});
      return null;
    });
    assertThat(slot.code()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(slot).hasMessage("chunk.slot 'velocity' is no state slot of models/m's rule (slots: [exp_avg, exp_avg_sq];"
        + " \"\" for the parameters)");
    ApiException incomplete = refused(() -> {
      copy.commitCopy(4, 1, false);
      return null;
    });
    assertThat(incomplete.code()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(incomplete).hasMessage("the copy of models/m on this worker is not complete: 'w'[0, 3) exp_avg: 0 of 3;"
        + " 'w'[0, 3) exp_avg_sq: 0 of 3; 'b'[0, 1) parameters: 0 of 1; 'b'[0, 1) exp_avg: 0 of 1 elements written");
  }
}
