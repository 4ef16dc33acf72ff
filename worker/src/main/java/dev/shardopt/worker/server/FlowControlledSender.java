package dev.shardopt.worker.server;

import io.grpc.stub.ServerCallStreamObserver;
import java.util.Iterator;

/**
 * Sends a lazily produced sequence of messages on a server stream only while the transport is
 * ready, so a slow reader never makes the server buffer a whole model. Tells its {@code finished}
 * callback once no message will be produced or sent any more (all sent, the call cancelled, or a
 * send failed): gRPC serializes a message inside {@code onNext} (into its own transport buffers),
 * so after that the data the messages were made from is no longer read.
 */
final class FlowControlledSender<T> {
  private final ServerCallStreamObserver<T> call;
  private Iterator<T> messages;
  private Runnable finished = () -> { };
  private boolean done;
  private boolean told;

  FlowControlledSender(ServerCallStreamObserver<T> call) {
    this.call = call;
    call.setOnReadyHandler(this::drain);
    call.setOnCancelHandler(() -> {
      synchronized (this) {
        done = true;
        tellFinished(); // after any drain in progress: drain holds the lock while it sends
      }
    });
  }

  /** Starts sending; may be called once, from any thread. */
  void start(Iterator<T> messages) {
    start(messages, () -> { });
  }

  /** As {@link #start(Iterator)}; {@code finished} runs once when sending ends, however it ends. */
  void start(Iterator<T> messages, Runnable finished) {
    synchronized (this) {
      this.messages = messages;
      this.finished = finished;
      if (done) { // cancelled before the messages were ready
        tellFinished();
        return;
      }
    }
    drain();
  }

  private synchronized void drain() {
    if (messages == null || done) {
      return;
    }
    try {
      while (call.isReady() && messages.hasNext()) {
        call.onNext(messages.next());
      }
      if (!messages.hasNext()) {
        done = true;
        call.onCompleted();
      }
    } catch (RuntimeException e) {
      done = true;
      tellFinished();
      throw e;
    }
    if (done) {
      tellFinished();
    }
  }

  /** Runs finished once, and only after start gave it. Caller holds the lock. */
  private void tellFinished() {
    if (!told && messages != null) {
      told = true;
      finished.run();
    }
  }
}
