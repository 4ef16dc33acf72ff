package dev.shardopt.worker.server;

import dev.shardopt.rpc.ApiException;
import io.grpc.stub.ServerCallStreamObserver;

/**
 * Sends a server stream's messages from a producer that pushes them (a copy read under the shards'
 * monitor), one at a time, each only once the transport is ready for it: the producing thread
 * waits meanwhile, so a slow reader holds the producer back instead of this process buffering a
 * whole model. The wait ends when the caller cancels, or after {@code maxWaitMillis} without
 * readiness.
 */
final class ReadyWaitingSender<T> {
  private final ServerCallStreamObserver<T> call;
  private final long maxWaitMillis;
  private boolean cancelled; // guarded by this

  /** Registers the call's handlers: construct it in the service method, before it returns. */
  ReadyWaitingSender(ServerCallStreamObserver<T> call, long maxWaitMillis) {
    this.call = call;
    this.maxWaitMillis = maxWaitMillis;
    call.setOnReadyHandler(this::wake);
    call.setOnCancelHandler(() -> {
      synchronized (this) {
        cancelled = true;
        notifyAll();
      }
    });
  }

  private synchronized void wake() {
    notifyAll();
  }

  /**
   * Sends {@code message} once the stream is ready.
   *
   * @throws ApiException CANCELLED when the caller cancelled; DEADLINE_EXCEEDED when the reader took
   *     nothing for {@code maxWaitMillis}
   */
  void send(T message) {
    long end = System.nanoTime() + maxWaitMillis * 1_000_000L;
    synchronized (this) {
      while (!cancelled && !call.isReady()) {
        long left = (end - System.nanoTime()) / 1_000_000L;
        if (left <= 0) {
          throw ApiException.deadlineExceeded("the reader of this stream took nothing for " + maxWaitMillis + " ms");
        }
        try {
          wait(Math.min(left, 1_000)); // the onReady handler wakes us; the timeout only re-checks
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new ApiException(io.grpc.Status.Code.CANCELLED, "interrupted while waiting to send");
        }
      }
      if (cancelled) {
        throw new ApiException(io.grpc.Status.Code.CANCELLED, "the caller cancelled the stream");
      }
    }
    call.onNext(message);
  }
}
