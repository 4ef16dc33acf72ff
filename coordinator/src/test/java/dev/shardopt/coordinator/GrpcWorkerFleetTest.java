package dev.shardopt.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.rpc.ApiException;
import dev.shardopt.v1.CheckpointRange;
import dev.shardopt.v1.CreateShardsRequest;
import dev.shardopt.v1.CreateShardsResponse;
import dev.shardopt.v1.Model;
import dev.shardopt.v1.WorkerGrpc;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
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
}
