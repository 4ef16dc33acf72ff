package dev.shardopt.worker.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.engine.device.CpuBackend;
import dev.shardopt.engine.kernel.ParallelApply;
import dev.shardopt.rpc.TensorBytes;
import dev.shardopt.v1.CreateShardsRequest;
import dev.shardopt.v1.CreateShardsResponse;
import dev.shardopt.v1.Model;
import dev.shardopt.v1.PullRequest;
import dev.shardopt.v1.PullResponse;
import dev.shardopt.v1.PushHeader;
import dev.shardopt.v1.PushRequest;
import dev.shardopt.v1.PushResponse;
import dev.shardopt.v1.Shard;
import dev.shardopt.v1.TensorChunk;
import dev.shardopt.v1.TensorSpec;
import dev.shardopt.v1.WorkerGrpc;
import dev.shardopt.engine.BlockStatistics;
import dev.shardopt.engine.StepDecider;
import dev.shardopt.v1.PipelineGeneration;
import dev.shardopt.v1.PipelineSchedule;
import dev.shardopt.worker.store.BarrierDecision;
import dev.shardopt.worker.store.ShardStore;
import dev.shardopt.worker.store.StepCoordinator;
import dev.shardopt.worker.store.WorkerCheckpoints;
import dev.shardopt.worker.store.WorkerModel;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Pull snapshots are encoded into buffers reused across versions (issue 11 §2): over a real Netty
 * loopback, pulls racing many version changes each get exactly the parameters of the version they
 * report, a pull cancelled mid-stream gives its version back, and versions reuse buffers.
 */
class PullBufferReuseTest {
  private static final String MODEL = "models/r";
  private static final int CHUNK_BYTES = 64 << 10;
  private static final int CHUNK = CHUNK_BYTES / Float.BYTES;

  private final ExecutorService pool = Executors.newCachedThreadPool();
  private final ScheduledExecutorService timeouts = Executors.newSingleThreadScheduledExecutor();
  private final StepCoordinator coordinator = new StepCoordinator() {
    private long t;

    @Override
    public synchronized BarrierDecision decide(String model, long step, long generation, List<BlockStatistics> stats) {
      var d = StepDecider.decide(WorkerServiceFuzzTest.sgd, t, stats, List.of("w"));
      t += d.applies() ? 1 : 0;
      return new BarrierDecision(d, generation, step + 1, 0);
    }

    @Override
    public PipelineSchedule schedule(String model, long throughStep) {
      return PipelineSchedule.newBuilder().setFixedThrough(throughStep)
          .addGenerations(PipelineGeneration.newBuilder().setPipeline(WorkerServiceFuzzTest.sgd.toProto())).build();
    }

    @Override
    public void loaded(String model) {}
  };
  private final ShardStore store = new ShardStore(coordinator,
      new CpuBackend(new ParallelApply(pool, 1)), new ParallelApply(pool, 1), timeouts,
      new WorkerCheckpoints(Runnable::run, () -> "worker workers/w1"));
  private WorkerService service;
  private Server server;
  private ManagedChannel channel;

  @BeforeEach
  void start() throws Exception {
    WorkerConfig d = WorkerConfig.defaults("unused:1");
    service = new WorkerService(store, new WorkerConfig(d.host(), d.port(), d.coordinator(), d.threads(),
        d.waitMillis(), CHUNK_BYTES, d.device(), d.advertise()));
    server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).addService(service.definition())
        .maxInboundMessageSize(TensorBytes.MAX_MESSAGE_BYTES).build().start();
    channel = NettyChannelBuilder.forAddress("127.0.0.1", server.getPort()).usePlaintext()
        .maxInboundMessageSize(TensorBytes.MAX_MESSAGE_BYTES).build();
  }

  @AfterEach
  void stop() throws InterruptedException {
    channel.shutdownNow();
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    store.close();
    pool.shutdownNow();
    timeouts.shutdownNow();
  }

  private WorkerModel create(int n) {
    RecordingCall<CreateShardsResponse> created = new RecordingCall<>();
    service.createShards(CreateShardsRequest.newBuilder()
        .setModel(Model.newBuilder().setName(MODEL).setPipeline(WorkerServiceFuzzTest.sgd.toProto()).setTrainers(1)
            .addTensors(TensorSpec.newBuilder().setName("w").addShape(n)))
        .addShards(Shard.newBuilder().setTensor("w").setTensorIndex(0).setLength(n)).build(), created);
    assertThat(created.error).isNull();
    return store.get(MODEL);
  }

  /** Step k's gradient: small integers, so every sum below is exact in float32. */
  private static float[] gradient(int n, long k) {
    float[] g = new float[n];
    for (int i = 0; i < n; i++) {
      g[i] = (float) ((i + k) % 5 - 2);
    }
    return g;
  }

  /** sgd(1.0) from zeros after {@code steps} steps, computed here: minus the sum of the gradients. */
  private static float[] expected(int n, long steps) {
    float[] p = new float[n];
    for (long k = 0; k < steps; k++) {
      float[] g = gradient(n, k);
      for (int i = 0; i < n; i++) {
        p[i] -= g[i];
      }
    }
    return p;
  }

  private void push(int n, long step) throws Exception {
    float[] g = gradient(n, step);
    CompletableFuture<PushResponse> answer = new CompletableFuture<>();
    StreamObserver<PushRequest> in = WorkerGrpc.newStub(channel).push(LastAnswer.into(answer));
    in.onNext(PushRequest.newBuilder().setHeader(PushHeader.newBuilder().setModel(MODEL).setStep(step)).build());
    for (int at = 0; at < n; at += CHUNK) {
      in.onNext(PushRequest.newBuilder().setChunk(TensorChunk.newBuilder().setTensor("w").setOffset(at)
          .setData(TensorBytes.encode(g, at, Math.min(CHUNK, n - at)))).build());
    }
    in.onCompleted();
    assertThat(answer.get(30, TimeUnit.SECONDS).getDuplicate()).isFalse();
  }

  /** One pull of the latest version: its step (the same in every message) and its values. */
  private record Pulled(long step, float[] values) {}

  private Pulled pull(int n, long minStep) {
    float[] out = new float[n];
    long step = -1;
    Iterator<PullResponse> it = WorkerGrpc.newBlockingStub(channel).pull(PullRequest.newBuilder().setModel(MODEL).setMinStep(minStep).build());
    while (it.hasNext()) {
      PullResponse r = it.next();
      assertThat(step == -1 || step == r.getStep()).as("one version per pull").isTrue();
      step = r.getStep();
      TensorBytes.decode(r.getChunk().getData(), out, (int) r.getChunk().getOffset());
    }
    return new Pulled(step, out);
  }

  private static void awaitZero(WorkerModel m) throws InterruptedException {
    long end = System.nanoTime() + 10_000_000_000L;
    while (m.snapshotsInUse() != 0 && System.nanoTime() < end) {
      Thread.sleep(10);
    }
    assertThat(m.snapshotsInUse()).as("snapshots still referenced").isZero();
  }

  @Test
  void concurrentPullsAcrossManyVersionsEachGetTheirVersionBitwise() throws Exception {
    int n = 5 * CHUNK + 123; // 6 chunks, the last one short
    int versions = 40;
    WorkerModel m = create(n);
    float[][] expected = new float[versions + 1][];
    for (int k = 0; k <= versions; k++) {
      expected[k] = expected(n, k);
    }
    AtomicBoolean pushing = new AtomicBoolean(true);
    Set<Long> seen = ConcurrentHashMap.newKeySet();
    List<Future<Integer>> pullers = new ArrayList<>();
    for (int t = 0; t < 6; t++) {
      pullers.add(pool.submit(() -> {
        int pulls = 0;
        while (pushing.get() || pulls < 3) { // bounded: the pusher ends after `versions` steps
          Pulled p = pull(n, 0);
          assertThat(p.step()).isBetween(0L, (long) versions);
          for (int i = 0; i < n; i++) {
            if (Float.floatToRawIntBits(p.values()[i]) != Float.floatToRawIntBits(expected[(int) p.step()][i])) {
              throw new AssertionError("pull of version " + p.step() + ": element " + i + " is " + p.values()[i]
                  + ", expected " + expected[(int) p.step()][i]);
            }
          }
          seen.add(p.step());
          pulls++;
        }
        return pulls;
      }));
    }
    try {
      for (long k = 0; k < versions; k++) {
        push(n, k);
      }
    } finally {
      pushing.set(false);
    }
    int pulls = 0;
    for (Future<Integer> f : pullers) {
      pulls += f.get(60, TimeUnit.SECONDS);
    }
    assertThat(pulls).isGreaterThanOrEqualTo(18);
    assertThat(seen).as("versions pulled").hasSizeGreaterThan(2);
    Pulled last = pull(n, versions);
    assertThat(last.step()).isEqualTo(versions);
    assertThat(last.values()).isEqualTo(expected[versions]);
    awaitZero(m);
    // without reuse every encoded version allocates 6 buffers; live sets are bounded by the pulls in flight
    assertThat(m.snapshotBuffersAllocated()).isLessThanOrEqualTo(6L * (6 + 1 + 2));
  }

  @Test
  void aPullCancelledMidStreamReleasesItsVersion() throws Exception {
    int n = 2_000_000 + 7; // 8 MB: far more than the HTTP/2 window, so the server waits mid-stream
    WorkerModel m = create(n);
    push(n, 0);
    LinkedBlockingQueue<Object> got = new LinkedBlockingQueue<>();
    ClientCall<PullRequest, PullResponse> call = channel.newCall(WorkerGrpc.getPullMethod(), CallOptions.DEFAULT);
    call.start(new ClientCall.Listener<>() {
      @Override
      public void onMessage(PullResponse message) {
        got.add(message);
      }

      @Override
      public void onClose(Status status, Metadata trailers) {
        got.add(status);
      }
    }, new Metadata());
    call.sendMessage(PullRequest.newBuilder().setModel(MODEL).setMinStep(1).build());
    call.halfClose();
    call.request(1);
    assertThat(got.poll(10, TimeUnit.SECONDS)).isInstanceOf(PullResponse.class);
    assertThat(m.snapshotsInUse()).as("the pull is still sending").isEqualTo(1);
    call.cancel("the trainer went away", null);
    awaitZero(m);
    // the next version reuses the released buffers, and a full pull of it is exact
    push(n, 1);
    Pulled p = pull(n, 2);
    assertThat(p.step()).isEqualTo(2);
    float[] e = expected(n, 2);
    for (int i = 0; i < n; i++) {
      assertThat(Float.floatToRawIntBits(p.values()[i])).as("element %d", i).isEqualTo(Float.floatToRawIntBits(e[i]));
    }
    awaitZero(m);
    assertThat(m.snapshotBuffersAllocated()).as("one set of buffers for both versions")
        .isEqualTo((n + CHUNK - 1) / CHUNK);
  }
}
