package dev.shardopt.worker.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.shardopt.rpc.ApiException;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** {@link ReadyWaitingSender}: a copy's chunks go out only while the call is ready. */
class ReadyWaitingSenderTest {

  /** A call whose readiness the test sets; it runs the handlers as gRPC would. */
  private static final class GatedCall extends ServerCallStreamObserver<String> {
    final List<String> sent = new CopyOnWriteArrayList<>();
    volatile boolean ready;
    volatile Runnable onReady;
    volatile Runnable onCancel;

    void becomeReady() {
      ready = true;
      onReady.run();
    }

    @Override
    public void onNext(String value) {
      sent.add(value);
      ready = false; // the transport takes one message at a time
    }

    @Override
    public void onError(Throwable t) {}

    @Override
    public void onCompleted() {}

    @Override
    public boolean isReady() {
      return ready;
    }

    @Override
    public boolean isCancelled() {
      return false;
    }

    @Override
    public void setOnReadyHandler(Runnable r) {
      onReady = r;
    }

    @Override
    public void setOnCancelHandler(Runnable r) {
      onCancel = r;
    }

    @Override
    public void setCompression(String compression) {}

    @Override
    public void disableAutoInboundFlowControl() {}

    @Override
    public void request(int count) {}

    @Override
    public void setMessageCompression(boolean enable) {}
  }

  @Test
  void eachMessageWaitsUntilTheCallIsReady() throws Exception {
    GatedCall call = new GatedCall();
    ReadyWaitingSender<String> sender = new ReadyWaitingSender<>(call, 10_000);
    CompletableFuture<Void> producer = CompletableFuture.runAsync(() -> {
      sender.send("a");
      sender.send("b");
    });
    Thread.sleep(100);
    assertThat(call.sent).as("nothing goes out before the call is ready").isEmpty();
    call.becomeReady();
    Thread.sleep(100);
    assertThat(call.sent).as("one message per readiness").containsExactly("a");
    call.becomeReady();
    producer.get(5, TimeUnit.SECONDS);
    assertThat(call.sent).containsExactly("a", "b");
  }

  @Test
  void aCancelledCallEndsTheWaitWithCancelled() throws Exception {
    GatedCall call = new GatedCall();
    ReadyWaitingSender<String> sender = new ReadyWaitingSender<>(call, 10_000);
    CompletableFuture<Void> producer = CompletableFuture.runAsync(() -> sender.send("a"));
    Thread.sleep(100);
    call.onCancel.run();
    assertThatThrownBy(() -> producer.get(5, TimeUnit.SECONDS)).hasCauseInstanceOf(ApiException.class)
        .cause().satisfies(e -> assertThat(((ApiException) e).code()).isEqualTo(Status.Code.CANCELLED));
    assertThat(call.sent).isEmpty();
  }

  @Test
  void aReaderThatTakesNothingForTheWaitEndsItWithDeadlineExceeded() {
    GatedCall call = new GatedCall();
    ReadyWaitingSender<String> sender = new ReadyWaitingSender<>(call, 200);
    assertThatThrownBy(() -> sender.send("a")).isInstanceOfSatisfying(ApiException.class, e -> {
      assertThat(e.code()).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
      assertThat(e).hasMessage("the reader of this stream took nothing for 200 ms");
    });
  }
}
