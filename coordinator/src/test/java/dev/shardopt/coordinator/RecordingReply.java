package dev.shardopt.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.rpc.ApiException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

/** A {@link StepBarrier.Reply} that records how it was answered; every wait is bounded. */
final class RecordingReply implements StepBarrier.Reply {
  static final long WAIT_SECONDS = 5;

  private final CompletableFuture<DecidedStep> result = new CompletableFuture<>();
  private final AtomicInteger calls = new AtomicInteger();

  @Override
  public void decided(DecidedStep d) {
    calls.incrementAndGet();
    result.complete(d);
  }

  @Override
  public void failed(ApiException e) {
    calls.incrementAndGet();
    result.completeExceptionally(e);
  }

  boolean answered() {
    return result.isDone();
  }

  int calls() {
    return calls.get();
  }

  /** The decision, waiting at most {@link #WAIT_SECONDS}; fails the test on an error or no answer. */
  DecidedStep decision() {
    try {
      return result.get(WAIT_SECONDS, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      throw new AssertionError("expected a decision, got " + e.getCause(), e.getCause());
    } catch (TimeoutException e) {
      throw new AssertionError("no answer within " + WAIT_SECONDS + " s");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  /** The error, waiting at most {@link #WAIT_SECONDS}; fails the test on a decision or no answer. */
  ApiException failure() {
    try {
      DecidedStep d = result.get(WAIT_SECONDS, TimeUnit.SECONDS);
      throw new AssertionError("expected a failure, got " + d);
    } catch (ExecutionException e) {
      assertThat(e.getCause()).isInstanceOf(ApiException.class);
      return (ApiException) e.getCause();
    } catch (TimeoutException e) {
      throw new AssertionError("no answer within " + WAIT_SECONDS + " s");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }
}
