package dev.shardopt.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.rpc.ApiException;
import dev.shardopt.v1.CheckpointRange;
import dev.shardopt.v1.CreateShardsRequest;
import dev.shardopt.v1.CopyShardsRequest;
import dev.shardopt.v1.CopyShardsResponse;
import dev.shardopt.v1.CreateShardsResponse;
import dev.shardopt.v1.Model;
import dev.shardopt.v1.TensorChunk;
import dev.shardopt.v1.WorkerGrpc;
import dev.shardopt.v1.WriteParametersResponse;
import com.google.protobuf.ByteString;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** {@link GrpcWorkerFleet} against real gRPC servers on loopback. */
class GrpcWorkerFleetTest {
  private final List<Server> servers = new ArrayList<>();
  private final GrpcWorkerFleet fleet = new GrpcWorkerFleet(20_000, 20_000);

  @AfterEach
  void stop() {
    fleet.close();
    servers.forEach(Server::shutdownNow);
  }

  /** A worker whose CreateShards counts {@code arrived} down, then waits for {@code all} before it answers (or fails). */
  private String worker(CountDownLatch arrived, CountDownLatch all, Status failWith) throws Exception {
    WorkerGrpc.WorkerImplBase impl = new WorkerGrpc.WorkerImplBase() {
      @Override
      public void createShards(CreateShardsRequest request, StreamObserver<CreateShardsResponse> response) {
        arrived.countDown();
        try {
          if (!all.await(10, TimeUnit.SECONDS)) {
            response.onError(Status.ABORTED.withDescription("the other workers were never asked meanwhile")
                .asRuntimeException());
            return;
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        if (failWith != null) {
          response.onError(failWith.asRuntimeException());
        } else {
          response.onNext(CreateShardsResponse.newBuilder().addRestored(CheckpointRange.newBuilder()
              .setPath(request.getModel().getName()).setLength(7)).build());
          response.onCompleted();
        }
      }
    };
    Server server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).addService(impl).build().start();
    servers.add(server);
    return "127.0.0.1:" + server.getPort();
  }

  @Test
  void createShardsAsksEveryWorkerAtOnceAndReportsEachFailureByAddress() throws Exception {
    CountDownLatch arrived = new CountDownLatch(3);
    String a = worker(arrived, arrived, null);
    String b = worker(arrived, arrived, Status.FAILED_PRECONDITION.withDescription("b.npy: missing"));
    String c = worker(arrived, arrived, null);
    CreateShardsRequest request = CreateShardsRequest.newBuilder().setModel(Model.newBuilder().setName("models/m")).build();
    Map<String, CreateShardsRequest> requests = new LinkedHashMap<>();
    requests.put(a, request);
    requests.put(b, request);
    requests.put(c, request);

    // each worker answers only once all three were asked: one after the other would be ABORTED
    WorkerFleet.Created created = fleet.createShards(requests);

    // each answer is the worker's own (here: one range named after the model)
    assertThat(created.answers()).containsOnlyKeys(a, c);
    assertThat(created.answers().get(c).getRestoredList()).singleElement()
        .satisfies(r -> assertThat(r.getPath() + " " + r.getLength()).isEqualTo("models/m 7"));
    Map<String, RuntimeException> failed = created.failures();
    assertThat(failed).containsOnlyKeys(b);
    assertThat(failed.get(b)).isInstanceOfSatisfying(ApiException.class, e -> {
      assertThat(e.code()).isEqualTo(Status.Code.FAILED_PRECONDITION);
      assertThat(e).hasMessage("worker " + b + " could not create shards of models/m: b.npy: missing");
    });
  }

  @Test
  void anUnreachableWorkerIsAFailureOfItsOwn() throws Exception {
    CountDownLatch one = new CountDownLatch(1);
    String a = worker(one, one, null);
    Server gone = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).build().start();
    String down = "127.0.0.1:" + gone.getPort();
    gone.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    CreateShardsRequest request = CreateShardsRequest.newBuilder().setModel(Model.newBuilder().setName("models/m")).build();
    Map<String, CreateShardsRequest> requests = new LinkedHashMap<>();
    requests.put(down, request);
    requests.put(a, request);

    WorkerFleet.Created created = fleet.createShards(requests);

    assertThat(created.answers()).containsOnlyKeys(a);
    Map<String, RuntimeException> failed = created.failures();
    assertThat(failed).containsOnlyKeys(down);
    assertThat(failed.get(down)).isInstanceOfSatisfying(ApiException.class, e -> {
      assertThat(e.code()).isEqualTo(Status.Code.UNAVAILABLE);
      assertThat(e.getMessage()).startsWith("worker " + down + " could not create shards of models/m: ");
    });
  }

  private static final int COPY_CHUNKS = 600;
  private static final int CHUNK_BYTES = 32 << 10;

  /** Chunk {@code i}'s data: bytes no other chunk has at the same place. */
  private static ByteString chunkData(int i) {
    byte[] b = new byte[CHUNK_BYTES];
    for (int j = 0; j < b.length; j++) {
      b[j] = (byte) (i * 31 + j * 7);
    }
    return ByteString.copyFrom(b);
  }

  /**
   * The relay of a copy (CopyShards from the source into WriteParameters to the new worker) is
   * flow-controlled end to end: while the new worker takes nothing, the source (which sends only
   * while its stream is ready, as a worker does) gets to send a few gRPC flow-control windows' worth,
   * not the whole copy; once the new worker reads, every chunk arrives, in order, bit for bit.
   */
  @Test
  void aCopyRelayedToAWorkerThatReadsNothingHoldsTheSourceBack() throws Exception {
    AtomicInteger sent = new AtomicInteger();
    WorkerGrpc.WorkerImplBase source = new WorkerGrpc.WorkerImplBase() {
      @Override
      public void copyShards(CopyShardsRequest request, StreamObserver<CopyShardsResponse> response) {
        ServerCallStreamObserver<CopyShardsResponse> call = (ServerCallStreamObserver<CopyShardsResponse>) response;
        call.setOnReadyHandler(new Runnable() {
          int next;

          @Override
          public synchronized void run() {
            while (call.isReady() && next < COPY_CHUNKS) {
              call.onNext(CopyShardsResponse.newBuilder().setStep(request.getStep())
                  .setChunk(TensorChunk.newBuilder().setTensor("w").setOffset((long) next * CHUNK_BYTES / 4)
                      .setData(chunkData(next))).build());
              next++;
              sent.incrementAndGet();
            }
            if (next == COPY_CHUNKS) {
              next++;
              call.onCompleted();
            }
          }
        });
      }
    };
    List<TensorChunk> received = Collections.synchronizedList(new ArrayList<>());
    AtomicReference<ServerCallStreamObserver<WriteParametersResponse>> sink = new AtomicReference<>();
    WorkerGrpc.WorkerImplBase target = new WorkerGrpc.WorkerImplBase() {
      @Override
      public StreamObserver<TensorChunk> writeParameters(StreamObserver<WriteParametersResponse> response) {
        ServerCallStreamObserver<WriteParametersResponse> call = (ServerCallStreamObserver<WriteParametersResponse>) response;
        call.disableAutoRequest(); // reads nothing until the test says so
        sink.set(call);
        return new StreamObserver<>() {
          @Override
          public void onNext(TensorChunk chunk) {
            received.add(chunk);
          }

          @Override
          public void onError(Throwable t) {}

          @Override
          public void onCompleted() {
            response.onNext(WriteParametersResponse.newBuilder().setElements(received.size()).build());
            response.onCompleted();
          }
        };
      }
    };
    String from = serve(source);
    String to = serve(target);
    Iterator<CopyShardsResponse> stream = fleet.copyShards(from,
        CopyShardsRequest.newBuilder().setModel("models/m").setStep(4).build());
    Iterator<TensorChunk> chunks = new Iterator<>() {
      @Override
      public boolean hasNext() {
        return stream.hasNext();
      }

      @Override
      public TensorChunk next() {
        return stream.next().getChunk();
      }
    };
    CompletableFuture<Void> relay = CompletableFuture.runAsync(() -> fleet.writeCopy(to, chunks));

    // wait until the source has sent and then stopped (nothing more for 500 ms), at most 20 s
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    int before = -1;
    while ((sent.get() == 0 || sent.get() != before) && System.nanoTime() < deadline) {
      before = sent.get();
      Thread.sleep(500);
    }
    int inFlight = sent.get();
    // two flow-control windows (gRPC's 1 MiB each: source to coordinator, coordinator to the new
    // worker), plus the chunk in the relay's hand and what each side's onReady threshold lets by
    int bound = 2 * (1 << 20) / CHUNK_BYTES + 4;
    assertThat(inFlight).as("chunks the source sent while the new worker read nothing").isPositive()
        .isLessThanOrEqualTo(bound);
    assertThat(received).as("the new worker read nothing yet").isEmpty();
    assertThat(relay).as("the relay waits for the new worker").isNotDone();

    sink.get().request(COPY_CHUNKS + 1);
    relay.get(30, TimeUnit.SECONDS);

    assertThat(sent.get()).isEqualTo(COPY_CHUNKS);
    assertThat(received).hasSize(COPY_CHUNKS);
    for (int i = 0; i < COPY_CHUNKS; i++) {
      TensorChunk c = received.get(i);
      assertThat(c.getOffset()).isEqualTo((long) i * CHUNK_BYTES / 4);
      assertThat(c.getData()).as("chunk %d", i).isEqualTo(chunkData(i));
    }
    System.out.printf("copy relay: %d of %d chunks of %d KiB sent while the new worker read nothing (bound %d)%n",
        inFlight, COPY_CHUNKS, CHUNK_BYTES >> 10, bound);
  }

  private String serve(WorkerGrpc.WorkerImplBase impl) throws Exception {
    Server server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).addService(impl).build().start();
    servers.add(server);
    return "127.0.0.1:" + server.getPort();
  }
}
