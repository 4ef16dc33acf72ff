package dev.shardopt.client;

import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import java.util.Iterator;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;

/**
 * Sends a client stream with gRPC flow control: messages are taken from the iterator (and so
 * encoded) only while the call {@code isReady()}, from the call's on-ready handler, so a fast
 * producer never buffers more than the transport's window. The future completes with the single
 * response, or exceptionally with the call's error.
 */
final class ClientStreamSender<ReqT, RespT> implements ClientResponseObserver<ReqT, RespT> {
  private final Iterator<? extends ReqT> messages;
  private final CompletableFuture<RespT> result = new CompletableFuture<>();
  private ClientCallStreamObserver<ReqT> requests;
  private boolean halfClosed; // guarded by this
  private volatile RespT response;

  private ClientStreamSender(Iterator<? extends ReqT> messages) {
    this.messages = messages;
  }

  /**
   * Starts the call with {@code start} (e.g. {@code stub::push}) and streams {@code messages} into
   * it.
   */
  static <ReqT, RespT> CompletableFuture<RespT> send(
      Function<StreamObserver<RespT>, StreamObserver<ReqT>> start, Iterator<? extends ReqT> messages) {
    ClientStreamSender<ReqT, RespT> sender = new ClientStreamSender<>(messages);
    try {
      start.apply(sender);
    } catch (RuntimeException e) {
      sender.result.completeExceptionally(e);
    }
    return sender.result;
  }

  @Override
  public void beforeStart(ClientCallStreamObserver<ReqT> requestStream) {
    this.requests = requestStream;
    requestStream.setOnReadyHandler(this::drain);
  }

  /** Sends while the transport takes more; half-closes after the last message. */
  private synchronized void drain() {
    if (halfClosed || result.isDone()) {
      return;
    }
    try {
      while (requests.isReady()) {
        if (!messages.hasNext()) {
          halfClosed = true;
          requests.onCompleted();
          return;
        }
        requests.onNext(messages.next());
      }
    } catch (RuntimeException e) {
      // The producer failed (e.g. a tensor changed size under us): end the call with its error.
      halfClosed = true;
      result.completeExceptionally(e);
      requests.cancel("the client failed to produce a message", e);
    }
  }

  @Override
  public void onNext(RespT value) {
    response = value;
  }

  @Override
  public void onError(Throwable t) {
    result.completeExceptionally(t);
  }

  @Override
  public void onCompleted() {
    RespT r = response;
    if (r == null) {
      result.completeExceptionally(
          Status.INTERNAL.withDescription("the server closed the call without a response")
              .asRuntimeException());
    } else {
      result.complete(r);
    }
  }
}
