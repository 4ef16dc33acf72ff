package dev.shardopt.bench.cluster;

import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import java.util.Iterator;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;

/**
 * A client stream sent the way the Shardopt client sends a push (its ClientStreamSender): messages
 * are taken from the iterator only while the call {@code isReady()}, from the on-ready handler, and
 * the stream is half-closed after the last one. Completes with the single response.
 */
final class FlowSender<ReqT, RespT> implements ClientResponseObserver<ReqT, RespT> {
  private final Iterator<? extends ReqT> messages;
  private final CompletableFuture<RespT> result = new CompletableFuture<>();
  private ClientCallStreamObserver<ReqT> requests;
  private boolean halfClosed; // guarded by this
  private volatile RespT response;

  private FlowSender(Iterator<? extends ReqT> messages) {
    this.messages = messages;
  }

  static <ReqT, RespT> CompletableFuture<RespT> send(
      Function<StreamObserver<RespT>, StreamObserver<ReqT>> start, Iterator<? extends ReqT> messages) {
    FlowSender<ReqT, RespT> sender = new FlowSender<>(messages);
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

  private synchronized void drain() {
    if (halfClosed || result.isDone()) {
      return;
    }
    while (requests.isReady()) {
      if (!messages.hasNext()) {
        halfClosed = true;
        requests.onCompleted();
        return;
      }
      requests.onNext(messages.next());
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
      result.completeExceptionally(Status.INTERNAL.withDescription("no response").asRuntimeException());
    } else {
      result.complete(r);
    }
  }
}
