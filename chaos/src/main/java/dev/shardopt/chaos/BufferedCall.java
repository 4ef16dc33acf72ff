package dev.shardopt.chaos;

import io.grpc.CallOptions;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * A call whose whole request is read before anything goes to the target, so that the proxy can send
 * it later (reorder) or more than once (duplicate), and answer the caller with one recorded reply.
 */
final class BufferedCall implements OpenCall {
  /** What the call tells its owner. */
  interface Events {
    void ended(BufferedCall call);
  }

  private final ServerCall<byte[], byte[]> downstream;
  private final Metadata headers;
  private final Upstream upstream;
  private final CallOptions options;
  private final Consumer<BufferedCall> whenRead;
  private final Events events;
  private final List<byte[]> request = new ArrayList<>();
  private final List<ReplayedCall> sent = new ArrayList<>();
  private boolean finished;

  /** @param whenRead given the call once the caller has half-closed: what to do with the request */
  BufferedCall(ServerCall<byte[], byte[]> downstream, Metadata headers, Upstream upstream, CallOptions options,
      Consumer<BufferedCall> whenRead, Events events) {
    this.downstream = downstream;
    this.headers = headers;
    this.upstream = upstream;
    this.options = options;
    this.whenRead = whenRead;
    this.events = events;
  }

  @Override
  public String method() {
    return downstream.getMethodDescriptor().getFullMethodName();
  }

  ServerCall.Listener<byte[]> callerListener() {
    downstream.request(1);
    return new ServerCall.Listener<>() {
      @Override
      public void onMessage(byte[] message) {
        synchronized (BufferedCall.this) {
          request.add(message);
        }
        downstream.request(1);
      }

      @Override
      public void onHalfClose() {
        whenRead.accept(BufferedCall.this);
      }

      @Override
      public void onCancel() {
        synchronized (BufferedCall.this) {
          if (finished) {
            return;
          }
          finished = true;
          sent.forEach(s -> s.cancel("shardopt chaos: the caller cancelled"));
          events.ended(BufferedCall.this);
        }
      }
    };
  }

  /** Sends one copy of the request to the target; its reply is CANCELLED when the call is over already. */
  synchronized CompletableFuture<RecordedReply> send() {
    if (finished) {
      return CompletableFuture.completedFuture(new RecordedReply(null, List.of(),
          Status.CANCELLED.withDescription("the call is over"), new Metadata(), System.nanoTime()));
    }
    ReplayedCall copy = ReplayedCall.send(upstream, downstream.getMethodDescriptor(), options, headers, request);
    sent.add(copy);
    return copy.reply();
  }

  /** Answers the caller with {@code reply}: its headers, messages, status and trailers. */
  synchronized void answer(RecordedReply reply) {
    if (finished) {
      return;
    }
    finished = true;
    if (reply.headers() != null) {
      downstream.sendHeaders(reply.headers());
    }
    for (byte[] m : reply.messages()) {
      downstream.sendMessage(m);
    }
    downstream.close(reply.status(), reply.trailers());
    events.ended(this);
  }

  @Override
  public synchronized void cut(Status status) {
    if (finished) {
      return;
    }
    finished = true;
    sent.forEach(s -> s.cancel("shardopt chaos: " + status.getDescription()));
    downstream.close(status, new Metadata());
    events.ended(this);
  }
}
