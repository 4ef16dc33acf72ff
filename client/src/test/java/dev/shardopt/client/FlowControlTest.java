package dev.shardopt.client;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.shardopt.v1.PushHeader;
import dev.shardopt.v1.PushRequest;
import dev.shardopt.v1.PushResponse;
import dev.shardopt.v1.TensorChunk;
import dev.shardopt.v1.WorkerGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * A push to a worker that does not read produces only what the transport takes: checked against a
 * scripted call whose readiness the test sets, and end to end over loopback.
 */
class FlowControlTest {
  private static final int MESSAGES = 256;
  private static final ByteString CHUNK = ByteString.copyFrom(new byte[64 << 10]); // 64 KiB
  /** The server's fixed HTTP/2 window (setting it turns gRPC's automatic window tuning off). */
  private static final int WINDOW = 1 << 20;
  /** Messages the loopback worker reads before it stalls (the header and three chunks). */
  private static final int READ_FIRST = 4;

  /** A header, then 64 KiB chunks, {@code count} messages in all; counts what was taken. */
  private static Iterator<PushRequest> messages(AtomicInteger produced, int count) {
    return new Iterator<>() {
      @Override
      public boolean hasNext() {
        return produced.get() < count;
      }

      @Override
      public PushRequest next() {
        int i = produced.getAndIncrement();
        return i == 0
            ? PushRequest.newBuilder().setHeader(PushHeader.newBuilder().setModel("models/m")).build()
            : PushRequest.newBuilder().setChunk(TensorChunk.newBuilder().setTensor("w")
                .setOffset((long) i * CHUNK.size() / 4).setData(CHUNK)).build();
      }
    };
  }

  /** A call that is ready for as many messages as the test grants, and records what it is sent. */
  static final class ScriptedCall extends ClientCallStreamObserver<PushRequest> {
    final List<PushRequest> sent = new ArrayList<>();
    private int budget;
    private Runnable onReady = () -> {};
    boolean halfClosed;

    /** Makes room for {@code messages} more and tells the sender, as the transport would. */
    void grant(int messages) {
      budget += messages;
      onReady.run();
    }

    @Override
    public boolean isReady() {
      return budget > 0;
    }

    @Override
    public void onNext(PushRequest value) {
      if (budget <= 0) {
        throw new AssertionError("a message was sent while the call was not ready");
      }
      budget--;
      sent.add(value);
    }

    @Override
    public void onCompleted() {
      halfClosed = true;
    }

    @Override
    public void setOnReadyHandler(Runnable onReadyHandler) {
      this.onReady = onReadyHandler;
    }

    @Override
    public void onError(Throwable t) {
      throw new AssertionError("the sender failed the call", t);
    }

    @Override
    public void cancel(String message, Throwable cause) {
      throw new AssertionError("the sender cancelled the call: " + message, cause);
    }

    @Override
    public void disableAutoInboundFlowControl() {}

    @Override
    public void request(int count) {}

    @Override
    public void setMessageCompression(boolean enable) {}
  }

  @Test
  void theSenderTakesMessagesOnlyWhileTheCallIsReady() throws Exception {
    ScriptedCall call = new ScriptedCall();
    AtomicReference<StreamObserver<PushResponse>> responses = new AtomicReference<>();
    AtomicInteger produced = new AtomicInteger();
    CompletableFuture<PushResponse> result = ClientStreamSender.send(observer -> {
      @SuppressWarnings("unchecked")
      ClientResponseObserver<PushRequest, PushResponse> sender =
          (ClientResponseObserver<PushRequest, PushResponse>) observer;
      sender.beforeStart(call);
      responses.set(observer);
      return call;
    }, messages(produced, 10));
    assertThat(produced).hasValue(0); // nothing before the transport says it is ready

    call.grant(3);
    assertThat(produced).hasValue(3);
    call.grant(0); // an on-ready with no room takes nothing
    assertThat(produced).hasValue(3);
    assertThat(call.halfClosed).isFalse();

    call.grant(7);
    assertThat(produced).hasValue(10);
    assertThat(call.halfClosed).isFalse(); // not ready: the end is not sent yet either
    call.grant(1);
    assertThat(call.halfClosed).isTrue();
    assertThat(call.sent).hasSize(10);
    assertThat(call.sent.get(0).hasHeader()).isTrue();
    assertThat(call.sent.get(9).getChunk().getOffset()).isEqualTo(9L * CHUNK.size() / 4);
    assertThat(result).isNotDone(); // the half-close is not the answer

    PushResponse answer = PushResponse.newBuilder().setStep(10).build();
    responses.get().onNext(answer);
    responses.get().onCompleted();
    assertThat(result.get(0, TimeUnit.SECONDS)).isEqualTo(answer);
  }

  /** Reads {@value #READ_FIRST} messages, then nothing until {@code go} opens, then one at a time. */
  static final class StalledWorker extends WorkerGrpc.WorkerImplBase {
    final CountDownLatch firstRead = new CountDownLatch(READ_FIRST);
    final CountDownLatch go = new CountDownLatch(1);
    final AtomicInteger received = new AtomicInteger();

    @Override
    public StreamObserver<PushRequest> push(StreamObserver<PushResponse> response) {
      ServerCallStreamObserver<PushResponse> call = (ServerCallStreamObserver<PushResponse>) response;
      call.disableAutoRequest();
      call.request(READ_FIRST);
      Thread t = new Thread(() -> {
        try {
          go.await();
        } catch (InterruptedException e) {
          return;
        }
        call.request(1);
      });
      t.setDaemon(true);
      t.start();
      return new StreamObserver<>() {
        @Override
        public void onNext(PushRequest r) {
          received.incrementAndGet();
          firstRead.countDown();
          if (go.getCount() == 0) {
            call.request(1);
          }
        }

        @Override
        public void onError(Throwable t) {}

        @Override
        public void onCompleted() {
          response.onNext(PushResponse.newBuilder().setStep(received.get()).build());
          response.onCompleted();
        }
      };
    }
  }

  @Test
  void overLoopbackTheSenderStaysWithinTheWindowOfAWorkerThatStopsReading() throws Exception {
    StalledWorker worker = new StalledWorker();
    Server server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .flowControlWindow(WINDOW).addService(worker).build().start();
    ManagedChannel channel = ChannelPool.plaintext(FakeCluster.address(server));
    try {
      AtomicInteger produced = new AtomicInteger();
      CompletableFuture<PushResponse> result =
          ClientStreamSender.send(WorkerGrpc.newStub(channel)::push, messages(produced, MESSAGES));

      assertThat(worker.firstRead.await(20, TimeUnit.SECONDS)).isTrue();
      assertThat(worker.received).hasValue(READ_FIRST);
      // From now on nothing returns window: what was read, plus one window of 64 KiB chunks (about
      // 17 with the ready threshold; the bound allows a second window), never the whole push.
      assertThat(produced.get()).isLessThanOrEqualTo(READ_FIRST + 2 * WINDOW / CHUNK.size());
      assertThat(result).isNotDone();

      worker.go.countDown();
      PushResponse r = result.get(30, TimeUnit.SECONDS);
      assertThat(r.getStep()).isEqualTo(MESSAGES);
      assertThat(produced).hasValue(MESSAGES);
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }
}
