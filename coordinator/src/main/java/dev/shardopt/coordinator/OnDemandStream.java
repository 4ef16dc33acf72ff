package dev.shardopt.coordinator;

import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.util.Iterator;
import java.util.NoSuchElementException;

/**
 * A server stream read with manual flow control: the next message is requested only when the
 * reader asks for it ({@link #hasNext} with nothing in hand), so at most one message waits here and
 * the sender is held back by gRPC's flow control window, however large the stream. Blocks the
 * reader until that message, the end or an error arrives (the call's deadline or cancellation
 * bounds the wait).
 */
final class OnDemandStream<Q, T> implements ClientResponseObserver<Q, T>, Iterator<T> {
  private ClientCallStreamObserver<Q> call;
  private T next; // guarded by this: the message in hand, or null
  private boolean requested; // guarded by this: a request(1) not yet answered
  private boolean ended; // guarded by this
  private Throwable error; // guarded by this

  @Override
  public void beforeStart(ClientCallStreamObserver<Q> call) {
    this.call = call;
    call.disableAutoRequestWithInitial(1);
    synchronized (this) {
      requested = true;
    }
  }

  @Override
  public synchronized void onNext(T value) {
    next = value;
    requested = false;
    notifyAll();
  }

  @Override
  public synchronized void onError(Throwable t) {
    error = t;
    ended = true;
    notifyAll();
  }

  @Override
  public synchronized void onCompleted() {
    ended = true;
    notifyAll();
  }

  /**
   * Whether another message comes; asks the sender for it when none is in hand.
   *
   * @throws io.grpc.StatusRuntimeException the stream's error
   */
  @Override
  public boolean hasNext() {
    while (true) {
      boolean ask;
      synchronized (this) {
        if (next != null) {
          return true;
        }
        if (ended) {
          if (error != null) {
            throw Status.fromThrowable(error).asRuntimeException();
          }
          return false;
        }
        ask = !requested;
        requested = true;
      }
      if (ask) {
        call.request(1); // outside the monitor: gRPC may deliver on another thread at once
      }
      synchronized (this) {
        while (next == null && !ended) {
          try {
            wait();
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            call.cancel("the reader was interrupted", e);
            throw Status.CANCELLED.withDescription("interrupted while waiting for the next message")
                .asRuntimeException();
          }
        }
      }
    }
  }

  @Override
  public T next() {
    if (!hasNext()) {
      throw new NoSuchElementException();
    }
    synchronized (this) {
      T v = next;
      next = null;
      return v;
    }
  }
}
