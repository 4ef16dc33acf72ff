package dev.shardopt.embedded;

import static dev.shardopt.dsl.Optimizers.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import com.google.protobuf.ByteString;
import dev.shardopt.client.ClientOptions;
import dev.shardopt.client.ModelOptions;
import dev.shardopt.client.RemoteModel;
import dev.shardopt.client.ShardoptCluster;
import dev.shardopt.client.ShardoptException;
import dev.shardopt.client.Tensors;
import dev.shardopt.client.Trainer;
import dev.shardopt.coordinator.CoordinatorConfig;
import dev.shardopt.embedded.EmbeddedCluster;
import dev.shardopt.v1.Adam;
import dev.shardopt.v1.CoordinatorGrpc;
import dev.shardopt.v1.CreateModelRequest;
import dev.shardopt.v1.Model;
import dev.shardopt.v1.OptimizerPipeline;
import dev.shardopt.v1.Shard;
import dev.shardopt.v1.TensorSpec;
import dev.shardopt.v1.WorkerStatus;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;

/** The parameter server's behaviour through real gRPC servers on loopback. */
class ClusterBehaviourTest {

  private static ShardoptCluster local(int workers, long barrierMillis, long waitMillis) {
    EmbeddedCluster.Builder b = EmbeddedCluster.builder().workers(workers)
        .coordinator(CoordinatorConfig.defaults().withBarrierTimeoutMillis(barrierMillis).withHeartbeatMillis(100))
        .worker((i, c) -> c.withThreads(1).withWaitMillis(waitMillis));
    return ShardoptLocal.start(b, ClientOptions.defaults().rpcDeadline(Duration.ofSeconds(20)));
  }

  private static void eventually(BooleanSupplier condition, String what) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("not within 10 s: " + what);
      }
      Thread.sleep(50);
    }
  }

  @Test
  void aDuplicatedPushIsAcknowledgedAgainAndNotAppliedTwice() throws Exception {
    try (ShardoptCluster c = local(2, 10_000, 10_000)) {
      RemoteModel m = c.createModel("dup", sgd(1.0), Tensors.of("w", 20_000), Tensors.of("b", 3));
      Trainer t = m.trainer(0, 1);
      Map<String, float[]> g = Map.of("w", filled(20_000, 1f), "b", new float[] {1, 2, 3});
      assertThat(t.push(0, g).duplicate()).isFalse();
      assertThat(t.push(0, g).duplicate()).isTrue();
      Map<String, float[]> p = m.pull(1);
      assertThat(p.get("b")).containsExactly(-1f, -2f, -3f);
      assertThat(p.get("w")).containsOnly(-1f);
      // both workers counted one duplicate each: the counters prove it was not applied
      eventually(() -> m.describe().getDuplicates() == 2 && m.describe().getPushes() == 4, "heartbeat counters");
      assertThat(m.describe().getUpdatesApplied()).isEqualTo(1);
      assertThat(m.metrics()).hasSize(1);
    }
  }

  @Test
  void asyncTrainersConvergeOnAConvexProblem() throws Exception {
    int n = 10_000;
    float[] target = new float[n];
    for (int i = 0; i < n; i++) {
      target[i] = (float) Math.sin(i);
    }
    ExecutorService threads = Executors.newFixedThreadPool(2);
    try (ShardoptCluster c = local(2, 10_000, 10_000)) {
      RemoteModel m = c.createModel(ModelOptions.named("convex").pipeline(sgd(0.2)).trainers(2).async(4)
          .tensors(Tensors.of("theta", n)));
      List<Future<?>> runs = new ArrayList<>();
      for (int r = 0; r < 2; r++) {
        Trainer t = m.trainer(r, 2);
        runs.add(threads.submit(() -> {
          for (int s = 0; s < 40; s++) {
            float[] theta = t.pull().get("theta");
            float[] grad = new float[n];
            for (int i = 0; i < n; i++) {
              grad[i] = theta[i] - target[i]; // f = |theta - target|^2 / 2
            }
            t.push(s, Map.of("theta", grad));
          }
          return null;
        }));
      }
      // every trainer's outcome: one that failed first leaves the other waiting at the staleness bound
      List<Throwable> failed = new ArrayList<>();
      for (Future<?> f : runs) {
        try {
          f.get(60, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
          failed.add(e.getCause());
        }
      }
      if (!failed.isEmpty()) {
        AssertionError e = new AssertionError("trainers failed: " + failed.stream().map(Throwable::toString).toList());
        failed.forEach(e::addSuppressed);
        throw e;
      }
      float[] theta = m.pull(80).get("theta");
      double err = 0;
      double start = 0;
      for (int i = 0; i < n; i++) {
        err += (theta[i] - target[i]) * (theta[i] - target[i]);
        start += target[i] * target[i];
      }
      // 80 updates of factor (1 - 0.2), slowed by staleness: far below 1e-3 of the start
      assertThat(Math.sqrt(err / start)).isLessThan(1e-3);
    } finally {
      threads.shutdownNow();
    }
  }

  @Test
  void aMissingTrainerMakesThePullFailAtItsDeadline() throws Exception {
    try (ShardoptCluster c = local(1, 10_000, 700)) {
      RemoteModel m = c.createModel(ModelOptions.named("missing").pipeline(sgd()).trainers(2).tensors(Tensors.of("w", 4)));
      m.trainer(0, 2).push(0, Map.of("w", new float[4]));
      long t0 = System.nanoTime();
      assertThatThrownBy(() -> m.trainer(0, 2).pull(1))
          .isInstanceOfSatisfying(ShardoptException.class, e -> {
            assertThat(e.code()).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
            assertThat(e.serverMessage()).isEqualTo(
                "step 1 of models/missing is not complete after 700 ms (completed 0, collecting 0); are all 2 trainers pushing?");
          });
      assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)).isBetween(600L, 10_000L);
    }
  }

  @Test
  void aWorkerThatStopsAnsweringFailsTheStepWithUnavailableAndIsMarkedUnhealthy() throws Exception {
    EmbeddedCluster.Builder b = EmbeddedCluster.builder().workers(2)
        .coordinator(CoordinatorConfig.defaults().withBarrierTimeoutMillis(1500).withHeartbeatMillis(100))
        .worker((i, cfg) -> cfg.withThreads(1).withWaitMillis(20_000));
    EmbeddedCluster servers = b.start();
    try (ShardoptCluster c = new ShardoptCluster(servers.coordinatorAddress(), ClientOptions.defaults(), servers)) {
      RemoteModel m = c.createModel("fault", sgd(), Tensors.of("w", 20_000));
      Trainer t = m.trainer(0, 1);
      t.push(0, Map.of("w", new float[20_000]));
      m.pull(1);
      List<Shard> shards = m.shardMap().getShardsList();
      String lost = shards.get(shards.size() - 1).getWorker();
      // worker 2 stops serving: its shard never reports step 1
      servers.stopWorker(1);
      assertThatThrownBy(() -> t.push(1, Map.of("w", new float[20_000])))
          .isInstanceOfSatisfying(ShardoptException.class, e -> assertThat(e.code()).isEqualTo(Status.Code.UNAVAILABLE));
      eventually(() -> c.status().getWorkersList().stream().anyMatch(w -> w.getName().equals(lost) && !w.getHealthy()),
          "the stopped worker is reported unhealthy");
      // the surviving worker reported step 1; the stopped one is declared dead (600 ms without heartbeats,
      // before the 1500 ms barrier timeout) and, its shard having no other copy, the model fails rather than hang
      assertThatThrownBy(() -> m.pull(2))
          .isInstanceOfSatisfying(ShardoptException.class, e -> {
            assertThat(e.code()).isEqualTo(Status.Code.UNAVAILABLE);
            assertThat(e.serverMessage()).contains(lost + " was declared dead");
          });
      assertThat(m.describe().getFailure()).contains(lost + " was declared dead and 1 shard of models/fault had no"
          + " other copy: [w[" + shards.get(shards.size() - 1).getOffset() + ", 20000)]", "it has no checkpoint");
      WorkerStatus alive = c.status().getWorkersList().stream().filter(w -> !w.getName().equals(lost)).findFirst().orElseThrow();
      assertThat(alive.getHealthy()).isTrue();
    }
  }

  @Test
  void badRequestsGetPreciseStatusesAndChangeNothing() throws Exception {
    try (ShardoptCluster c = local(1, 10_000, 2_000)) {
      RemoteModel m = c.createModel("bad", sgd(1.0), Tensors.of("w", 8));
      String worker = m.shardMap().getShards(0).getAddress();
      RawWorker w = new RawWorker(worker);
      ManagedChannel coord = NettyChannelBuilder.forTarget(c.target()).usePlaintext().build();
      try {
        // unknown model
        assertThat(w.push("models/nope", 0, 0, RawWorker.chunk("w", 0, ByteString.copyFrom(new byte[32]))))
            .isEqualTo(Status.Code.NOT_FOUND);
        // a byte length that is not whole float32 values
        assertThat(w.lastDescription).contains("models/nope not found");
        assertThat(w.push("models/bad", 0, 0, RawWorker.chunk("w", 0, ByteString.copyFrom(new byte[30])))).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(w.lastDescription).contains("30 bytes, which is not a whole number of little-endian float32 values");
        // a chunk out of range
        assertThat(w.push("models/bad", 0, 0, RawWorker.chunk("w", 4, ByteString.copyFrom(new byte[32])))).isEqualTo(Status.Code.OUT_OF_RANGE);
        assertThat(w.lastDescription).contains("elements [4, 12) of 'w' are not inside one shard on this worker (shards: [0, 8))");
        // an unknown tensor
        assertThat(w.push("models/bad", 0, 0, RawWorker.chunk("v", 0, ByteString.copyFrom(new byte[32])))).isEqualTo(Status.Code.NOT_FOUND);
        // a partial gradient
        assertThat(w.push("models/bad", 0, 0, RawWorker.chunk("w", 0, ByteString.copyFrom(new byte[16])))).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(w.lastDescription).contains("misses elements of 'w' from 4");
        // a pipeline that does not validate
        OptimizerPipeline bad = OptimizerPipeline.newBuilder().setAdam(Adam.newBuilder().setBeta2(1.5)).build();
        assertThatThrownBy(() -> CoordinatorGrpc.newBlockingStub(coord).createModel(CreateModelRequest.newBuilder()
                .setModelId("bad2").setModel(Model.newBuilder().setPipeline(bad)
                    .addTensors(TensorSpec.newBuilder().setName("w").addShape(2))).build()))
            .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
              assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
              assertThat(e.getStatus().getDescription()).isEqualTo("model.pipeline: beta2 must be in [0, 1), got 1.5");
            });
        // changing the base rule mid-run
        assertThatThrownBy(() -> m.updatePipeline(adam(), 3))
            .isInstanceOfSatisfying(ShardoptException.class, e -> assertThat(e.code()).isEqualTo(Status.Code.FAILED_PRECONDITION))
            .hasMessageContaining("the base rule cannot change mid-run (sgd -> adam)");
        // nothing of the above was applied
        assertThat(m.pull(0).get("w")).containsOnly(0f);
        m.trainer(0, 1).push(0, Map.of("w", filled(8, 1f)));
        assertThat(m.pull(1).get("w")).containsOnly(-1f);
        // a push after the model is deleted
        m.delete();
        assertThat(w.push("models/bad", 0, 0, RawWorker.chunk("w", 0, ByteString.copyFrom(new byte[32])))).isEqualTo(Status.Code.NOT_FOUND);
        assertThatThrownBy(() -> c.model("bad").describe())
            .isInstanceOfSatisfying(ShardoptException.class, e -> assertThat(e.code()).isEqualTo(Status.Code.NOT_FOUND));
      } finally {
        w.close();
        coord.shutdownNow();
      }
    }
  }

  @Test
  void aFrozenTensorsGradientMayBeLeftOutOfAPush() throws Exception {
    try (ShardoptCluster c = local(1, 10_000, 2_000)) {
      RemoteModel m = c.createModel("frozen", sgd(1.0).freeze("f"), Tensors.of("w", 2), Tensors.of("f", 2));
      RawWorker w = new RawWorker(m.shardMap().getShards(0).getAddress());
      try {
        float[] ones = {1f, 1f};
        assertThat(w.push("models/frozen", 0, 0, RawWorker.chunk("w", 0, dev.shardopt.rpc.TensorBytes.encode(ones, 0, 2))))
            .isEqualTo(Status.Code.OK);
        Map<String, float[]> p = m.pull(1);
        assertThat(p.get("w")).containsExactly(-1f, -1f);
        assertThat(p.get("f")).containsExactly(0f, 0f);
        // a non-frozen tensor may not be left out
        assertThat(w.push("models/frozen", 0, 1, RawWorker.chunk("f", 0, dev.shardopt.rpc.TensorBytes.encode(ones, 0, 2))))
            .isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(w.lastDescription).isEqualTo("no gradient for 'w'");
      } finally {
        w.close();
      }
    }
  }

  @Test
  void aPipelineChangeTakesEffectAtExactlyItsStep() throws Exception {
    try (ShardoptCluster c = local(2, 10_000, 10_000)) {
      RemoteModel m = c.createModel("change", sgd(1.0), Tensors.of("w", 20_000));
      Trainer t = m.trainer(0, 1);
      m.updatePipeline(sgd(0.25).clipValue(0.5), 2);
      for (int s = 0; s < 4; s++) {
        t.pull();
        t.push(s, Map.of("w", filled(20_000, 1f)));
      }
      // steps 0, 1: lr 1, g 1; steps 2, 3: lr 0.25, g clamped to 0.5
      assertThat(m.pull(4).get("w")).containsOnly(-2.25f);
      assertThat(m.metrics()).extracting(x -> x.learningRate()).containsExactly(1.0, 1.0, 0.25, 0.25);
      assertThatThrownBy(() -> m.updatePipeline(sgd(0.1), 1))
          .isInstanceOfSatisfying(ShardoptException.class, e -> assertThat(e.code()).isEqualTo(Status.Code.FAILED_PRECONDITION));
      assertThat(m.describe().getPipelineText()).isEqualTo("sgd(0.25).clipValue(0.5)");
    }
  }

  @Test
  void everyProcessServesHealthAndReflection() throws Exception {
    try (ShardoptCluster c = local(1, 10_000, 10_000)) {
      List<String> addresses = new ArrayList<>(List.of(c.target()));
      c.status().getWorkersList().forEach(w -> addresses.add(w.getAddress()));
      for (String address : addresses) {
        ManagedChannel ch = NettyChannelBuilder.forTarget(address).usePlaintext().build();
        try {
          HealthCheckResponse h = HealthGrpc.newBlockingStub(ch).withDeadlineAfter(5, TimeUnit.SECONDS)
              .check(HealthCheckRequest.getDefaultInstance());
          assertThat(h.getStatus()).isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
          assertThat(listServices(ch)).contains("shardopt.v1." + (address.equals(c.target()) ? "Coordinator" : "Worker"),
              "grpc.health.v1.Health");
        } finally {
          ch.shutdownNow();
        }
      }
    }
  }

  // ---------------------------------------------------------------- helpers

  private static List<String> listServices(ManagedChannel ch) throws Exception {
    List<String> out = new ArrayList<>();
    CountDownLatch done = new CountDownLatch(1);
    StreamObserver<ServerReflectionRequest> req = ServerReflectionGrpc.newStub(ch).serverReflectionInfo(
        new StreamObserver<ServerReflectionResponse>() {
          @Override
          public void onNext(ServerReflectionResponse r) {
            r.getListServicesResponse().getServiceList().forEach(s -> out.add(s.getName()));
          }

          @Override
          public void onError(Throwable t) {
            done.countDown();
          }

          @Override
          public void onCompleted() {
            done.countDown();
          }
        });
    req.onNext(ServerReflectionRequest.newBuilder().setListServices("").build());
    req.onCompleted();
    assertThat(done.await(10, TimeUnit.SECONDS)).isTrue();
    return out;
  }

  private static float[] filled(int n, float v) {
    float[] a = new float[n];
    java.util.Arrays.fill(a, v);
    return a;
  }
}
