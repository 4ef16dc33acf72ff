package dev.shardopt.worker.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.rpc.ApiException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class VersionWaitersTest {
  private final ScheduledExecutorService timeouts = Executors.newSingleThreadScheduledExecutor();
  private final VersionWaiters w = new VersionWaiters(timeouts);

  @AfterEach
  void stop() {
    timeouts.shutdownNow();
  }

  @Test
  void waitersCompleteWhenTheirValueIsReachedInOrder() throws Exception {
    CompletableFuture<Long> two = w.await(2, 10_000, () -> ApiException.deadlineExceeded("late"));
    CompletableFuture<Long> three = w.await(3, 10_000, () -> ApiException.deadlineExceeded("late"));
    assertThat(w.waiting()).isEqualTo(2);
    w.advanceTo(2);
    assertThat(two.getNow(-1L)).isEqualTo(2);
    assertThat(three).isNotDone();
    assertThat(w.waiting()).isEqualTo(1);
    w.advanceTo(1); // never lowers
    assertThat(w.current()).isEqualTo(2);
    assertThat(w.await(2, 1, () -> ApiException.deadlineExceeded("late")).getNow(-1L)).isEqualTo(2);
    w.advanceTo(5);
    assertThat(three.getNow(-1L)).isEqualTo(5);
    assertThat(w.waiting()).isZero();
  }

  @Test
  void aTimeoutFailsOnlyItsWaiterWithTheGivenException() throws Exception {
    CompletableFuture<Long> soon = w.await(1, 20, () -> ApiException.deadlineExceeded("step 1 is late"));
    CompletableFuture<Long> later = w.await(1, 10_000, () -> ApiException.deadlineExceeded("never"));
    ExecutionException e = org.assertj.core.api.Assertions.catchThrowableOfType(
        () -> soon.get(10, TimeUnit.SECONDS), ExecutionException.class);
    assertThat(e.getCause()).hasMessage("step 1 is late");
    assertThat(w.waiting()).isEqualTo(1);
    w.advanceTo(1);
    assertThat(later.get(10, TimeUnit.SECONDS)).isEqualTo(1);
  }

  @Test
  void failAllFailsWaitersAndEveryLaterOne() {
    CompletableFuture<Long> waiting = w.await(1, 10_000, () -> ApiException.deadlineExceeded("late"));
    ApiException down = ApiException.unavailable("models/m failed");
    w.failAll(down);
    assertThat(waiting).isCompletedExceptionally();
    assertThat(w.waiting()).isZero();
    assertThat(w.await(0, 10, () -> ApiException.deadlineExceeded("late"))).isCompletedExceptionally();
  }
}
