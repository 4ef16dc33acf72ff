package dev.shardopt.coordinator;

import io.grpc.ForwardingServerCall.SimpleForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;

/**
 * Marks every answer of the coordinator with the trailer {@value #KEY}, so that a caller tells an
 * UNAVAILABLE the coordinator sent (a failed step: do not retry) from one of a coordinator that is
 * down or restarting (retry with backoff). The workers and the Java client check for it.
 */
final class AnsweredByCoordinator implements ServerInterceptor {
  static final String KEY = "shardopt-answered-by";
  private static final Metadata.Key<String> TRAILER = Metadata.Key.of(KEY, Metadata.ASCII_STRING_MARSHALLER);

  @Override
  public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
    return next.startCall(new SimpleForwardingServerCall<>(call) {
      @Override
      public void close(Status status, Metadata trailers) {
        trailers.put(TRAILER, "coordinator");
        super.close(status, trailers);
      }
    }, headers);
  }
}
