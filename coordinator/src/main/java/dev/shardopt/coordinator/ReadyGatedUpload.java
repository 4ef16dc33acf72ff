package dev.shardopt.coordinator;

import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.util.Iterator;
import java.util.concurrent.CompletableFuture;

/**
 * A client stream that is written only while its transport is ready ({@code isReady}, woken by the
 * onReady handler): the next message is taken from its source only then, so a slow receiver holds
 * back the source instead of filling this process's send buffers. Its answer (one message, or the
 * end) completes {@link #answer}.
 */
final class ReadyGatedUpload<Q, A> implements ClientResponseObserver<Q, A> {
  private final CompletableFuture<A> answer = new CompletableFuture<>();
  private final A none;
  private ClientCallStreamObserver<Q> call;

  /** @param none the answer when the call ends without one */
  ReadyGatedUpload(A none) {
    this.none = none;
  }

  @Override
  public void beforeStart(ClientCallStreamObserver<Q> call) {
    this.call = call;
    call.setOnReadyHandler(this::wake);
  }

  private synchronized void wake() {
    notifyAll();
  }

  /**
   * Sends every message of {@code messages}, each taken only once the stream is ready for it, then
   * half-closes; stops early when the call has ended (its answer says why). A failure of {@code
   * messages} cancels the call and is thrown.
   */
  void send(Iterator<Q> messages) {
    try {
      while (awaitReady() && messages.hasNext()) {
        call.onNext(messages.next());
      }
    } catch (RuntimeException e) {
      call.onError(e);
      throw e;
    }
    call.onCompleted();
  }

  /** Waits until the stream is ready; false when the call ended first. */
  private synchronized boolean awaitReady() {
    while (!answer.isDone() && !call.isReady()) {
      try {
        wait(1_000); // the onReady handler or the end wakes us; the timeout only re-checks
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while waiting to send", e);
      }
    }
    return !answer.isDone();
  }

  CompletableFuture<A> answer() {
    return answer;
  }

  @Override
  public void onNext(A value) {
    answer.complete(value);
    wake();
  }

  @Override
  public void onError(Throwable t) {
    answer.completeExceptionally(t);
    wake();
  }

  @Override
  public void onCompleted() {
    answer.complete(none);
    wake();
  }
}
