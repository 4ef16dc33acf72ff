package dev.shardopt.rpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class CoordinatorAnswersTest {
  private final ManagedChannel channel = NettyChannelBuilder.forTarget("127.0.0.1:1").usePlaintext().build();

  @AfterEach
  void close() {
    channel.shutdownNow();
  }

  private static StatusRuntimeException answered(Status status) {
    Metadata trailers = new Metadata();
    trailers.put(Metadata.Key.of(CoordinatorAnswers.KEY, Metadata.ASCII_STRING_MARSHALLER), "coordinator");
    return status.asRuntimeException(trailers);
  }

  @Test
  void onlyAnUnavailableOrAnUnknownWithoutTheTrailerIsUnanswered() {
    assertThat(CoordinatorAnswers.unanswered(Status.UNAVAILABLE.asRuntimeException())).isTrue();
    assertThat(CoordinatorAnswers.unanswered(answered(Status.UNAVAILABLE))).isFalse();
    // grpc-java's status when the connection is reset under a call (the coordinator was killed)
    assertThat(CoordinatorAnswers.unanswered(Status.UNKNOWN.withDescription("channel closed").asRuntimeException()))
        .isTrue();
    assertThat(CoordinatorAnswers.unanswered(answered(Status.UNKNOWN))).isFalse();
    assertThat(CoordinatorAnswers.unanswered(Status.DEADLINE_EXCEEDED.asRuntimeException())).isFalse();
  }

  @Test
  void anUnansweredCallIsSentAgainUntilItIsAnswered() {
    AtomicInteger calls = new AtomicInteger();
    String got = CoordinatorAnswers.retryWhileUnanswered(channel, System.nanoTime() + TimeUnit.SECONDS.toNanos(10), 1, 4,
        left -> {
          assertThat(left).isPositive();
          if (calls.incrementAndGet() < 3) {
            throw Status.UNAVAILABLE.withDescription("connection refused").asRuntimeException();
          }
          return "decided";
        });
    assertThat(got).isEqualTo("decided");
    assertThat(calls).hasValue(3);
  }

  @Test
  void anAnsweredErrorOrAPassedDeadlineIsThrownWithoutAnotherTry() {
    AtomicInteger calls = new AtomicInteger();
    StatusRuntimeException failedStep = answered(Status.UNAVAILABLE.withDescription("step 3 did not complete"));
    assertThatThrownBy(() -> CoordinatorAnswers.retryWhileUnanswered(channel, System.nanoTime() + TimeUnit.SECONDS.toNanos(10),
        1, 4, left -> {
          calls.incrementAndGet();
          throw failedStep;
        })).isSameAs(failedStep);
    assertThat(calls).hasValue(1);

    calls.set(0);
    assertThatThrownBy(() -> CoordinatorAnswers.retryWhileUnanswered(channel, System.nanoTime(), 1_000, 1_000, left -> {
      calls.incrementAndGet();
      throw Status.UNAVAILABLE.asRuntimeException();
    })).isInstanceOf(StatusRuntimeException.class);
    assertThat(calls).hasValue(1);
  }
}
