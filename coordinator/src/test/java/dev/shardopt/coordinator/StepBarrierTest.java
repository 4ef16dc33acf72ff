package dev.shardopt.coordinator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.shardopt.rpc.ApiException;
import dev.shardopt.engine.BlockStatistics;
import dev.shardopt.engine.UpdateDecision;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class StepBarrierTest {
  private static final long LONG_TIMEOUT_MS = 30_000; // never reached in tests that are not about it

  private ScheduledExecutorService timer;
  private final AtomicInteger decideCalls = new AtomicInteger();
  private final List<Long> decidedSteps = new CopyOnWriteArrayList<>();
  private final List<List<BlockStatistics>> decidedStats = new CopyOnWriteArrayList<>();
  private final List<StepBarrier.CompletedRound> decidedRounds = new CopyOnWriteArrayList<>();
  private final List<Long> timedOutSteps = new CopyOnWriteArrayList<>();
  private final List<Set<String>> missingSets = new CopyOnWriteArrayList<>();
  private final AtomicLong nanos = new AtomicLong(7_000_000_000L);
  private final AtomicReference<ApiException> timeoutError = new AtomicReference<>();
  private final CountDownLatch timedOut = new CountDownLatch(1);

  @BeforeEach
  void start() {
    timer = Executors.newSingleThreadScheduledExecutor();
  }

  @AfterEach
  void stop() throws InterruptedException {
    timer.shutdownNow();
    assertThat(timer.awaitTermination(5, TimeUnit.SECONDS)).isTrue();
  }

  private static DecidedStep decisionFor(long step) {
    return new DecidedStep(step, new UpdateDecision(UpdateDecision.Action.APPLY, step, 0.1, 1f, step + 0.5, null),
        1, step + 1, 2);
  }

  private StepBarrier barrier(Set<String> participants, long timeoutMillis) {
    return barrier(participants, timeoutMillis, timer);
  }

  private StepBarrier barrier(Set<String> participants, long timeoutMillis, ScheduledExecutorService timer) {
    return new StepBarrier("models/m", participants, timer, timeoutMillis,
        round -> {
          decideCalls.incrementAndGet();
          decidedSteps.add(round.step());
          decidedStats.add(List.copyOf(round.statistics()));
          decidedRounds.add(round);
          return decisionFor(round.step());
        },
        (step, missing) -> {
          timedOutSteps.add(step);
          missingSets.add(Set.copyOf(missing));
          ApiException e = ApiException.unavailable("step " + step + " timed out; missing " + missing);
          timeoutError.set(e);
          timedOut.countDown();
          return e;
        },
        nanos::get);
  }

  private static List<BlockStatistics> stats(int tensor, int firstBlock, double... sums) {
    return List.of(new BlockStatistics(tensor, firstBlock, sums, -1));
  }

  @Test
  void decidesOnceWhenEveryParticipantReportedAndAnswersAllAlike() {
    StepBarrier b = barrier(Set.of("w1", "w2", "w3"), LONG_TIMEOUT_MS);
    RecordingReply r1 = new RecordingReply();
    RecordingReply r2 = new RecordingReply();
    RecordingReply r3 = new RecordingReply();

    b.report("w1", 7, 1, stats(0, 0, 1.0), r1);
    b.report("w2", 7, 1, stats(0, 1, 2.0), r2);
    assertThat(r1.answered()).isFalse();
    assertThat(r2.answered()).isFalse();
    assertThat(decideCalls).hasValue(0);

    b.report("w3", 7, 1, stats(1, 0, 3.0), r3);
    DecidedStep d = r1.decision();
    assertThat(r2.decision()).isSameAs(d);
    assertThat(r3.decision()).isSameAs(d);
    assertThat(d).isEqualTo(decisionFor(7));
    assertThat(decideCalls).hasValue(1);
    assertThat(decidedSteps).containsExactly(7L);
    assertThat(List.of(r1.calls(), r2.calls(), r3.calls())).containsOnly(1);
  }

  @Test
  void everyWorkersStatisticsReachDecide() {
    StepBarrier b = barrier(Set.of("w1", "w2"), LONG_TIMEOUT_MS);
    BlockStatistics a = new BlockStatistics(0, 0, new double[] {1, 2}, -1);
    BlockStatistics c = new BlockStatistics(1, 0, new double[] {3}, -1);
    BlockStatistics e = new BlockStatistics(0, 2, new double[] {4}, 17);
    b.report("w1", 0, 1, List.of(a, c), new RecordingReply());
    RecordingReply last = new RecordingReply();
    b.report("w2", 0, 1, List.of(e), last);
    last.decision();
    assertThat(decidedStats).hasSize(1);
    assertThat(decidedStats.get(0)).containsExactlyInAnyOrder(a, c, e);
  }

  @Test
  void stepsAreIndependentRounds() {
    StepBarrier b = barrier(Set.of("w1", "w2"), LONG_TIMEOUT_MS);
    RecordingReply s0w1 = new RecordingReply();
    RecordingReply s1w1 = new RecordingReply();
    RecordingReply s1w2 = new RecordingReply();
    RecordingReply s0w2 = new RecordingReply();
    b.report("w1", 0, 1, stats(0, 0, 1), s0w1);
    b.report("w1", 1, 1, stats(0, 0, 1), s1w1);
    b.report("w2", 1, 1, stats(0, 1, 1), s1w2);
    assertThat(s1w1.decision()).isEqualTo(decisionFor(1));
    assertThat(s1w2.decision()).isEqualTo(decisionFor(1));
    assertThat(s0w1.answered()).isFalse();
    b.report("w2", 0, 1, stats(0, 1, 1), s0w2);
    assertThat(s0w1.decision()).isEqualTo(decisionFor(0));
    assertThat(s0w2.decision()).isEqualTo(decisionFor(0));
    assertThat(decidedSteps).containsExactly(1L, 0L);
  }

  @Test
  void aRemovedParticipantIsNoLongerAwaitedAndItsReportsAreRefused() {
    StepBarrier b = barrier(Set.of("w1", "w2", "w3"), LONG_TIMEOUT_MS);
    RecordingReply r1 = new RecordingReply();
    RecordingReply r3 = new RecordingReply();
    b.report("w1", 0, 1, stats(0, 0, 1), r1);
    b.report("w3", 0, 1, stats(0, 1, 2), r3);
    b.hold(() -> 1); // step 1 is held for a snapshot: removing w2 must not decide it
    RecordingReply h1 = new RecordingReply();
    b.report("w1", 1, 1, stats(0, 0, 1), h1);
    b.report("w3", 1, 1, stats(0, 1, 2), new RecordingReply());
    assertThat(r1.answered()).isFalse();

    b.removeParticipant("w2", "w2 was declared dead");
    assertThat(r1.decision().step()).isZero(); // w1 and w3 reported: decided now
    assertThat(decidedStats.get(0)).hasSize(2);
    assertThat(h1.answered()).as("held").isFalse();
    b.release(1);
    assertThat(h1.decision().step()).isEqualTo(1);
    assertThat(b.participants()).containsExactlyInAnyOrder("w1", "w3");

    RecordingReply late = new RecordingReply();
    b.report("w2", 2, 1, stats(0, 2, 1), late);
    assertThat(late.failure().code()).isEqualTo(io.grpc.Status.Code.FAILED_PRECONDITION);
    assertThat(late.failure()).hasMessage("w2 is fenced off models/m: w2 was declared dead; it must drop its shards"
        + " of the model");
    assertThat(decideCalls).hasValue(2);
  }

  @Test
  void concurrentReportsDecideExactlyOnce() throws Exception {
    List<String> names = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      names.add("w" + i);
    }
    StepBarrier b = barrier(Set.copyOf(names), LONG_TIMEOUT_MS);
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try {
      for (long step = 0; step < 50; step++) {
        CountDownLatch go = new CountDownLatch(1);
        List<RecordingReply> replies = new ArrayList<>();
        for (String w : names) {
          RecordingReply r = new RecordingReply();
          replies.add(r);
          long s = step;
          int block = names.indexOf(w); // each worker its own shard
          pool.execute(() -> {
            try {
              if (go.await(5, TimeUnit.SECONDS)) {
                b.report(w, s, 1, stats(0, block, 1), r);
              }
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          });
        }
        go.countDown();
        DecidedStep first = replies.get(0).decision();
        for (RecordingReply r : replies) {
          assertThat(r.decision()).isSameAs(first);
          assertThat(r.calls()).isEqualTo(1);
        }
      }
    } finally {
      pool.shutdownNow();
      assertThat(pool.awaitTermination(5, TimeUnit.SECONDS)).isTrue();
    }
    assertThat(decideCalls).hasValue(50);
    for (List<BlockStatistics> s : decidedStats) {
      assertThat(s).hasSize(8);
    }
  }

  @Test
  void reportFromANonParticipantFailsWithFailedPrecondition() {
    StepBarrier b = barrier(Set.of("w1", "w2"), LONG_TIMEOUT_MS);
    RecordingReply stranger = new RecordingReply();
    b.report("w9", 0, 1, stats(0, 0, 1), stranger);
    ApiException e = stranger.failure();
    assertThat(e.code()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(e.getMessage()).contains("w9").contains("models/m");

    // it does not count towards the round
    RecordingReply r1 = new RecordingReply();
    b.report("w1", 0, 1, stats(0, 0, 1), r1);
    assertThat(r1.answered()).isFalse();
    RecordingReply r2 = new RecordingReply();
    b.report("w2", 0, 1, stats(0, 1, 1), r2);
    assertThat(r1.decision()).isEqualTo(decisionFor(0));
    assertThat(decideCalls).hasValue(1);
    assertThat(decidedStats.get(0)).hasSize(2);
  }

  @Test
  void reReportOfADecidedStepGetsTheCachedDecision() {
    StepBarrier b = barrier(Set.of("w1", "w2"), LONG_TIMEOUT_MS);
    RecordingReply r1 = new RecordingReply();
    RecordingReply r2 = new RecordingReply();
    b.report("w1", 3, 1, stats(0, 0, 1), r1);
    b.report("w2", 3, 1, stats(0, 1, 1), r2);
    DecidedStep d = r1.decision();

    RecordingReply retry = new RecordingReply();
    b.report("w2", 3, 1, stats(0, 1, 1), retry);
    assertThat(retry.answered()).as("answered at once, without waiting for the others").isTrue();
    assertThat(retry.decision()).isSameAs(d);
    RecordingReply retry1 = new RecordingReply();
    b.report("w1", 3, 1, stats(0, 0, 1), retry1);
    assertThat(retry1.decision()).isSameAs(d);
    assertThat(decideCalls).hasValue(1);
    assertThat(r1.calls()).isEqualTo(1);
    assertThat(r2.calls()).isEqualTo(1);
  }

  @Test
  void timeoutFailsEveryWaitingReplyWithTheOnTimeoutException() throws InterruptedException {
    StepBarrier b = barrier(Set.of("w1", "w2", "w3"), 100);
    RecordingReply r1 = new RecordingReply();
    RecordingReply r3 = new RecordingReply();
    b.report("w1", 5, 1, stats(0, 0, 1), r1);
    b.report("w3", 5, 1, stats(0, 2, 1), r3);

    assertThat(timedOut.await(5, TimeUnit.SECONDS)).as("onTimeout called").isTrue();
    ApiException e1 = r1.failure();
    ApiException e3 = r3.failure();
    assertThat(e1).isSameAs(timeoutError.get());
    assertThat(e3).isSameAs(timeoutError.get());
    assertThat(timedOutSteps).containsExactly(5L);
    assertThat(missingSets).containsExactly(Set.of("w2"));
    assertThat(decideCalls).hasValue(0);
    assertThat(r1.calls()).isEqualTo(1);
    assertThat(r3.calls()).isEqualTo(1);

    // afterwards every report fails with the same error: the late one, and a later step
    RecordingReply late = new RecordingReply();
    b.report("w2", 5, 1, stats(0, 1, 1), late);
    assertThat(late.failure()).isSameAs(timeoutError.get());
    RecordingReply next = new RecordingReply();
    b.report("w1", 6, 1, stats(0, 0, 1), next);
    assertThat(next.failure()).isSameAs(timeoutError.get());
    assertThat(decideCalls).hasValue(0);
  }

  @Test
  void timeoutAlsoFailsOtherWaitingSteps() throws InterruptedException {
    StepBarrier b = barrier(Set.of("w1", "w2"), 100);
    RecordingReply first = new RecordingReply();
    b.report("w1", 0, 1, stats(0, 0, 1), first);
    RecordingReply second = new RecordingReply();
    b.report("w1", 1, 1, stats(0, 0, 1), second);
    assertThat(timedOut.await(5, TimeUnit.SECONDS)).isTrue();
    assertThat(first.failure()).isSameAs(timeoutError.get());
    assertThat(second.failure()).isSameAs(timeoutError.get());
    assertThat(missingSets.get(0)).containsExactly("w2");
  }

  @Test
  void aDecidedStepDoesNotTimeOutLater() throws InterruptedException {
    StepBarrier b = barrier(Set.of("w1", "w2"), 100);
    RecordingReply r1 = new RecordingReply();
    RecordingReply r2 = new RecordingReply();
    b.report("w1", 0, 1, stats(0, 0, 1), r1);
    b.report("w2", 0, 1, stats(0, 1, 1), r2);
    r1.decision();
    assertThat(timedOut.await(400, TimeUnit.MILLISECONDS)).as("onTimeout must not run").isFalse();
    RecordingReply a = new RecordingReply();
    RecordingReply c = new RecordingReply();
    b.report("w1", 1, 1, stats(0, 0, 1), a);
    b.report("w2", 1, 1, stats(0, 1, 1), c);
    assertThat(a.decision()).isEqualTo(decisionFor(1));
    assertThat(r1.calls()).isEqualTo(1);
  }

  @Test
  void closeFailsWaitingRepliesAndLaterReports() {
    StepBarrier b = barrier(Set.of("w1", "w2"), LONG_TIMEOUT_MS);
    RecordingReply waiting = new RecordingReply();
    RecordingReply otherStep = new RecordingReply();
    b.report("w1", 0, 1, stats(0, 0, 1), waiting);
    b.report("w2", 1, 1, stats(0, 1, 1), otherStep);
    ApiException reason = ApiException.notFound("models/m was deleted");
    b.close(reason);
    assertThat(waiting.failure()).isSameAs(reason);
    assertThat(otherStep.failure()).isSameAs(reason);

    RecordingReply later = new RecordingReply();
    b.report("w2", 0, 1, stats(0, 1, 1), later);
    assertThat(later.failure()).isSameAs(reason);
    assertThat(decideCalls).hasValue(0);
    assertThat(waiting.calls()).isEqualTo(1);
  }

  @Test
  void anApiExceptionFromDecideReachesEveryReply() {
    ApiException refused = ApiException.invalidArgument("bad gradient");
    StepBarrier b = new StepBarrier("models/m", Set.of("w1", "w2"), timer, LONG_TIMEOUT_MS,
        round -> {
          throw refused;
        },
        (step, missing) -> ApiException.unavailable("timeout"), nanos::get);
    RecordingReply r1 = new RecordingReply();
    RecordingReply r2 = new RecordingReply();
    b.report("w1", 0, 1, stats(0, 0, 1), r1);
    b.report("w2", 0, 1, stats(0, 1, 1), r2);
    assertThat(r1.failure()).isSameAs(refused);
    assertThat(r2.failure()).isSameAs(refused);
  }

  @Test
  void anyOtherExceptionFromDecideBecomesUnavailable() {
    StepBarrier b = new StepBarrier("models/m", Set.of("w1"), timer, LONG_TIMEOUT_MS,
        round -> {
          throw new IllegalStateException("boom");
        },
        (step, missing) -> ApiException.unavailable("timeout"), nanos::get);
    RecordingReply r = new RecordingReply();
    b.report("w1", 4, 1, stats(0, 0, 1), r);
    ApiException e = r.failure();
    assertThat(e.code()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(e.getMessage()).contains("step 4").contains("models/m").contains("boom");
  }

  @Test
  void theBarrierWaitIsTheTimeFromTheFirstReportToTheLast() {
    StepBarrier b = barrier(Set.of("w1", "w2", "w3"), LONG_TIMEOUT_MS);
    nanos.set(5_000_000);
    b.report("w2", 0, 1, stats(0, 1, 1), new RecordingReply());
    nanos.set(105_000_000);
    b.report("w1", 0, 1, stats(0, 0, 1), new RecordingReply());
    nanos.set(305_250_000);
    RecordingReply last = new RecordingReply();
    b.report("w3", 0, 1, stats(0, 2, 1), last);
    last.decision();

    b.report("w1", 1, 1, stats(0, 0, 1), new RecordingReply());
    b.report("w2", 1, 1, stats(0, 1, 1), new RecordingReply());
    b.report("w3", 1, 1, stats(0, 2, 1), last = new RecordingReply());
    last.decision();
    assertThat(decidedRounds).extracting(StepBarrier.CompletedRound::barrierWaitMillis).containsExactly(300.25, 0.0);
  }

  @Test
  void eachWorkersGenerationReachesDecide() {
    StepBarrier b = barrier(Set.of("w1", "w2", "w3"), LONG_TIMEOUT_MS);
    b.report("w1", 4, 2, stats(0, 0, 1), new RecordingReply());
    b.report("w2", 4, 3, stats(0, 1, 1), new RecordingReply());
    RecordingReply last = new RecordingReply();
    b.report("w3", 4, 2, stats(0, 2, 1), last);
    assertThat(last.decision()).isEqualTo(decisionFor(4));
    assertThat(decidedRounds).singleElement().satisfies(round -> {
      assertThat(round.step()).isEqualTo(4);
      assertThat(round.generations()).isEqualTo(Map.of("w1", 2L, "w2", 3L, "w3", 2L));
    });
  }

  /** A timer whose tasks run only when the test fires them, even cancelled ones (as a timeout that had begun). */
  static final class ManualTimer extends ScheduledThreadPoolExecutor {
    final List<Runnable> scheduled = new CopyOnWriteArrayList<>();

    ManualTimer() {
      super(1);
    }

    @Override
    public ScheduledFuture<?> schedule(Runnable command, long delay, TimeUnit unit) {
      scheduled.add(command);
      return super.schedule(() -> {}, 1, TimeUnit.DAYS);
    }

    void fireAll() {
      scheduled.forEach(Runnable::run);
    }
  }

  @Test
  void aHeldStepsCompletedRoundIsDecidedOnlyWhenReleasedAndNeverTimesOut() {
    ManualTimer manual = new ManualTimer();
    try {
      StepBarrier b = barrier(Set.of("w1", "w2"), LONG_TIMEOUT_MS, manual);
      assertThat(b.hold(() -> 3)).isEqualTo(3);
      RecordingReply r1 = new RecordingReply();
      RecordingReply r2 = new RecordingReply();
      RecordingReply retry = new RecordingReply();
      b.report("w1", 3, 1, stats(0, 0, 1), r1);
      b.report("w2", 3, 1, stats(0, 1, 1), r2);
      manual.fireAll(); // the round's timeout, had it begun before the round completed
      b.report("w1", 3, 1, stats(0, 0, 1), retry);
      assertThat(decideCalls.get()).isZero();
      assertThat(timedOutSteps).isEmpty();
      assertThat(List.of(r1.answered(), r2.answered(), retry.answered())).containsOnly(false);

      b.release(3);
      assertThat(r1.decision().step()).isEqualTo(3);
      assertThat(r2.decision()).isSameAs(r1.decision());
      assertThat(retry.decision()).isSameAs(r1.decision());
      assertThat(decidedSteps).containsExactly(3L);
      // the hold is gone: the next step decides as soon as it completes
      RecordingReply next = new RecordingReply();
      b.report("w1", 4, 1, stats(0, 0, 1), new RecordingReply());
      b.report("w2", 4, 1, stats(0, 1, 1), next);
      assertThat(next.decision().step()).isEqualTo(4);
    } finally {
      manual.shutdownNow();
    }
  }

  @Test
  void aHeldStepStillTimesOutWhileAWorkerHasNotReported() {
    ManualTimer manual = new ManualTimer();
    try {
      StepBarrier b = barrier(Set.of("w1", "w2"), LONG_TIMEOUT_MS, manual);
      b.hold(() -> 5);
      RecordingReply r1 = new RecordingReply();
      b.report("w1", 5, 1, stats(0, 0, 1), r1);
      manual.fireAll();
      assertThat(r1.failure()).isSameAs(timeoutError.get());
      assertThat(missingSets).containsExactly(Set.of("w2"));
    } finally {
      manual.shutdownNow();
    }
  }

  @Test
  void aRefusedHoldHoldsNothing() {
    StepBarrier b = barrier(Set.of("w1"), LONG_TIMEOUT_MS);
    ApiException refused = ApiException.failedPrecondition("passed");
    assertThatThrownBy(() -> b.hold(() -> {
      throw refused;
    })).isSameAs(refused);
    RecordingReply r = new RecordingReply();
    b.report("w1", 0, 1, stats(0, 0, 1), r);
    assertThat(r.decision().step()).isZero();
  }
}
