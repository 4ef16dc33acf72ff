package dev.shardopt.rpc;

import io.grpc.ForwardingServerCall.SimpleForwardingServerCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.concurrent.TimeUnit;
import java.util.function.LongFunction;

/**
 * Tells an UNAVAILABLE that the coordinator sent (a failed step: do not retry) from one of a
 * coordinator that is down or restarting (retry with backoff): the coordinator marks every answer
 * with the trailer {@value #KEY} ({@link #interceptor()}), and callers retry only calls that lack
 * it ({@link #retryWhileUnanswered}). The workers and the Java client use this.
 */
public final class CoordinatorAnswers {
  public static final String KEY = "shardopt-answered-by";
  private static final Metadata.Key<String> TRAILER = Metadata.Key.of(KEY, Metadata.ASCII_STRING_MARSHALLER);

  private CoordinatorAnswers() {}

  /** The coordinator's server interceptor that adds the trailer to every answer. */
  public static ServerInterceptor interceptor() {
    return new ServerInterceptor() {
      @Override
      public <Q, A> ServerCall.Listener<Q> interceptCall(
          ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
        return next.startCall(new SimpleForwardingServerCall<>(call) {
          @Override
          public void close(Status status, Metadata trailers) {
            trailers.put(TRAILER, "coordinator");
            super.close(status, trailers);
          }
        }, headers);
      }
    };
  }

  /**
   * UNAVAILABLE or UNKNOWN without the coordinator's trailer: it did not answer. UNKNOWN because
   * grpc-java reports a connection reset under a call as {@code UNKNOWN: channel closed} (grpc-java
   * issues 10120, 10474), which is what a call in flight gets when the coordinator is killed; an
   * UNKNOWN the coordinator sent carries the trailer like its every answer.
   */
  public static boolean unanswered(StatusRuntimeException e) {
    Status.Code code = e.getStatus().getCode();
    return (code == Status.Code.UNAVAILABLE || code == Status.Code.UNKNOWN)
        && (e.getTrailers() == null || !e.getTrailers().containsKey(TRAILER));
  }

  /**
   * Runs {@code call} (given the nanoseconds left until {@code deadlineNanos}) and again, after a
   * backoff doubling from {@code firstBackoffMillis} to {@code maxBackoffMillis}, while the
   * coordinator does not answer and the deadline allows; then throws the last error. Between tries
   * the channel reconnects at once rather than after gRPC's own growing backoff.
   */
  public static <T> T retryWhileUnanswered(ManagedChannel channel, long deadlineNanos, long firstBackoffMillis,
      long maxBackoffMillis, LongFunction<T> call) {
    long backoffMillis = firstBackoffMillis;
    while (true) {
      try {
        return call.apply(Math.max(1, deadlineNanos - System.nanoTime()));
      } catch (StatusRuntimeException e) {
        if (!unanswered(e) || deadlineNanos - System.nanoTime() < TimeUnit.MILLISECONDS.toNanos(backoffMillis)) {
          throw e;
        }
        try {
          Thread.sleep(backoffMillis);
        } catch (InterruptedException interrupted) {
          Thread.currentThread().interrupt();
          throw e;
        }
        channel.resetConnectBackoff();
        backoffMillis = Math.min(backoffMillis * 2, maxBackoffMillis);
      }
    }
  }
}
