package dev.shardopt.worker.server;

import io.grpc.stub.ServerCallStreamObserver;
import java.util.Iterator;

/**
 * Sends a lazily produced sequence of messages on a server stream only while the transport is
 * ready, so a slow reader never makes the server buffer a whole model.
 */
final class FlowControlledSender<T> {
  private final ServerCallStreamObserver<T> call;
  private Iterator<T> messages;
  private boolean done;

  FlowControlledSender(ServerCallStreamObserver<T> call) {
    this.call = call;
    call.setOnReadyHandler(this::drain);
    call.setOnCancelHandler(() -> {
      synchronized (this) {
        done = true;
      }
    });
  }

  /** Starts sending; may be called once, from any thread. */
  void start(Iterator<T> messages) {
    synchronized (this) {
      this.messages = messages;
    }
    drain();
  }

  private synchronized void drain() {
    if (messages == null || done) {
      return;
    }
    while (call.isReady() && messages.hasNext()) {
      call.onNext(messages.next());
    }
    if (!messages.hasNext()) {
      done = true;
      call.onCompleted();
    }
  }
}
