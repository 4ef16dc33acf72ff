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
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.Iterator;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** A push to a worker that does not read produces only what the transport's window takes. */
class FlowControlTest {
  private static final int MESSAGES = 256;
  private static final ByteString CHUNK = ByteString.copyFrom(new byte[64 << 10]); // 64 KiB

  /** Reads nothing until {@code go} opens, then one message at a time. */
  static final class StalledWorker extends WorkerGrpc.WorkerImplBase {
    final CountDownLatch go = new CountDownLatch(1);
    final AtomicInteger received = new AtomicInteger();

    @Override
    public StreamObserver<PushRequest> push(StreamObserver<PushResponse> response) {
      ServerCallStreamObserver<PushResponse> call = (ServerCallStreamObserver<PushResponse>) response;
      call.disableAutoRequest();
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
          call.request(1);
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
  void theSenderOnlyProducesWhatTheTransportTakes() throws Exception {
    StalledWorker worker = new StalledWorker();
    Server server = FakeCluster.serve(worker);
    ManagedChannel channel = ChannelPool.plaintext(FakeCluster.address(server));
    try {
      AtomicInteger produced = new AtomicInteger();
      Iterator<PushRequest> messages = new Iterator<>() {
        @Override
        public boolean hasNext() {
          return produced.get() < MESSAGES;
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
      CompletableFuture<PushResponse> result =
          ClientStreamSender.send(WorkerGrpc.newStub(channel)::push, messages);

      // Wait for the connection (a cold Netty takes a while), then until production stops.
      int whileStalled = -1;
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (System.nanoTime() < deadline) {
        Thread.sleep(300);
        int now = produced.get();
        if (now > 0 && now == whileStalled) {
          break;
        }
        whileStalled = now;
      }
      // The HTTP/2 window (1 MiB) plus gRPC's 32 KiB ready threshold: about 17 of 256 messages.
      assertThat(whileStalled).isGreaterThan(0).isLessThan(48);
      assertThat(worker.received.get()).isZero();
      assertThat(result).isNotDone();

      worker.go.countDown();
      PushResponse r = result.get(30, TimeUnit.SECONDS);
      assertThat(r.getStep()).isEqualTo(MESSAGES);
      assertThat(produced.get()).isEqualTo(MESSAGES);
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }
}
