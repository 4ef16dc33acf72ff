package dev.shardopt.worker.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.engine.BlockStatistics;
import dev.shardopt.engine.StepDecider;
import dev.shardopt.engine.device.CpuBackend;
import dev.shardopt.engine.kernel.ParallelApply;
import dev.shardopt.rpc.TensorBytes;
import dev.shardopt.v1.CreateShardsRequest;
import dev.shardopt.v1.GetProgressRequest;
import dev.shardopt.v1.Initializer;
import dev.shardopt.v1.Model;
import dev.shardopt.v1.ModelProgress;
import dev.shardopt.v1.PipelineGeneration;
import dev.shardopt.v1.PipelineSchedule;
import dev.shardopt.v1.PullRequest;
import dev.shardopt.v1.PullResponse;
import dev.shardopt.v1.PushHeader;
import dev.shardopt.v1.PushRequest;
import dev.shardopt.v1.PushResponse;
import dev.shardopt.v1.Shard;
import dev.shardopt.v1.TensorChunk;
import dev.shardopt.v1.TensorSpec;
import dev.shardopt.v1.WriteParametersResponse;
import dev.shardopt.worker.store.BarrierDecision;
import dev.shardopt.worker.store.ShardStore;
import dev.shardopt.worker.store.WorkerCheckpoints;
import dev.shardopt.worker.store.StepCoordinator;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The Worker service over a real ShardStore, with recording calls instead of a transport. */
class WorkerServiceTest {
  private final ExecutorService pool = Executors.newCachedThreadPool();
  private final ScheduledExecutorService timeouts = Executors.newSingleThreadScheduledExecutor();
  private final Pipeline sgd = Pipeline.parse("sgd(1.0)");
  private final StepCoordinator coordinator = new StepCoordinator() {
    private long t;

    @Override
    public synchronized BarrierDecision decide(String model, long step, long generation, List<BlockStatistics> stats) {
      var d = StepDecider.decide(sgd, t, stats, List.of("w", "u"));
      t += d.applies() ? 1 : 0;
      return new BarrierDecision(d, generation, step + 1, 0);
    }

    @Override
    public PipelineSchedule schedule(String model, long throughStep) {
      return PipelineSchedule.newBuilder().setFixedThrough(throughStep)
          .addGenerations(PipelineGeneration.newBuilder().setPipeline(sgd.toProto())).build();
    }

    @Override
    public void loaded(String model) {}
  };
  private final ShardStore store = new ShardStore(coordinator, new CpuBackend(new ParallelApply(pool, 1)), new ParallelApply(pool, 1), timeouts,
      new WorkerCheckpoints(Runnable::run, () -> "worker workers/w1"));
  private final WorkerService service = new WorkerService(store, WorkerConfig.defaults("unused:1"));

  @AfterEach
  void stop() {
    store.close();
    pool.shutdownNow();
    timeouts.shutdownNow();
  }

  /** models/m: w[4] zeros, u[2] upload (loaded by the test when it needs pushes). */
  private void create() {
    Model spec = Model.newBuilder().setName("models/m").setPipeline(sgd.toProto())
        .addTensors(TensorSpec.newBuilder().setName("w").addShape(4))
        .addTensors(TensorSpec.newBuilder().setName("u").addShape(2)
            .setInit(Initializer.newBuilder().setUpload(Initializer.Upload.getDefaultInstance())))
        .build();
    RecordingCall<dev.shardopt.v1.CreateShardsResponse> call = new RecordingCall<>();
    service.createShards(CreateShardsRequest.newBuilder().setModel(spec)
        .addShards(Shard.newBuilder().setTensor("w").setTensorIndex(0).setLength(4))
        .addShards(Shard.newBuilder().setTensor("u").setTensorIndex(1).setLength(2)).build(), call);
    assertThat(call.error).isNull();
    assertThat(call.messages).singleElement().satisfies(r -> assertThat(r.getRestoredList()).isEmpty());
  }

  private RecordingCall<WriteParametersResponse> write(String tensor, ByteString data) {
    RecordingCall<WriteParametersResponse> call = new RecordingCall<>();
    StreamObserver<TensorChunk> in = service.writeParameters(call);
    in.onNext(TensorChunk.newBuilder().setModel("models/m").setTensor(tensor).setData(data).build());
    in.onCompleted();
    return call;
  }

  private RecordingCall<PushResponse> push(long step, ByteString w, ByteString u) {
    RecordingCall<PushResponse> call = new RecordingCall<>();
    StreamObserver<PushRequest> in = service.push(call);
    in.onNext(PushRequest.newBuilder().setHeader(PushHeader.newBuilder().setModel("models/m").setStep(step))
        .setChunk(TensorChunk.newBuilder().setTensor("w").setData(w)).build());
    in.onNext(PushRequest.newBuilder().setChunk(TensorChunk.newBuilder().setTensor("u").setData(u)).build());
    in.onCompleted();
    return call;
  }

  private static ByteString floats(float... v) {
    return TensorBytes.encode(v, 0, v.length);
  }

  private static Status status(Throwable t) {
    return ((StatusRuntimeException) t).getStatus();
  }

  @Test
  void chunksOver4MiBAreRefusedInPushesAndWrites() throws Exception {
    create();
    ByteString tooBig = ByteString.copyFrom(new byte[(4 << 20) + 1]);
    RecordingCall<WriteParametersResponse> w = write("u", tooBig);
    assertThat(status(w.error).getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(status(w.error).getDescription()).isEqualTo("chunk of 'u' has 4194305 bytes of data; the limit is"
        + " 4194304 bytes (4 MiB) per chunk: split it");
    assertThat(write("u", floats(1, 2)).messages()).containsExactly(WriteParametersResponse.newBuilder().setElements(2).build());
    RecordingCall<PushResponse> p = push(0, tooBig, floats(0, 0));
    assertThat(status(p.error).getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(status(p.error).getDescription()).startsWith("chunk of 'w' has 4194305 bytes of data");
    // exactly 4 MiB passes the limit (and then is out of w's range)
    RecordingCall<PushResponse> atLimit = push(0, ByteString.copyFrom(new byte[4 << 20]), floats(0, 0));
    assertThat(status(atLimit.error).getCode()).isEqualTo(Status.Code.OUT_OF_RANGE);
  }

  @Test
  void twoHundredPullsWaitingForAStepHoldNoThreadsAndAllGetIt() throws Exception {
    create();
    write("u", floats(1, 2));
    int threadsBefore = ManagementFactory.getThreadMXBean().getThreadCount();
    List<RecordingCall<PullResponse>> pulls = new ArrayList<>();
    for (int i = 0; i < 200; i++) { // all from this one thread: each call returns at once
      RecordingCall<PullResponse> call = new RecordingCall<>();
      service.pull(PullRequest.newBuilder().setModel("models/m").setMinStep(1).build(), call);
      pulls.add(call);
    }
    assertThat(store.get("models/m").waitingPulls()).isEqualTo(200);
    assertThat(pulls).allSatisfy(c -> assertThat(c.done.getCount()).isEqualTo(1));
    assertThat(ManagementFactory.getThreadMXBean().getThreadCount()).isLessThan(threadsBefore + 10);
    RecordingCall<PushResponse> push = push(0, floats(1, 2, 3, 4), floats(2, 2));
    assertThat(push.done.await(10, TimeUnit.SECONDS)).isTrue();
    assertThat(push.error).isNull();
    for (RecordingCall<PullResponse> c : pulls) {
      assertThat(c.done.await(10, TimeUnit.SECONDS)).isTrue();
      assertThat(c.error).isNull();
      assertThat(c.messages()).hasSize(2).allSatisfy(r -> assertThat(r.getStep()).isEqualTo(1));
      assertThat(c.messages().get(0).getChunk().getData()).isEqualTo(floats(-1, -2, -3, -4));
      assertThat(c.messages().get(1).getChunk().getData()).isEqualTo(floats(-1, 0));
    }
    assertThat(store.get("models/m").waitingPulls()).isZero();
  }

  private RecordingCall<PushResponse> pushChunks(long step, long[] offsets, ByteString[] w, ByteString u) {
    RecordingCall<PushResponse> call = new RecordingCall<>();
    StreamObserver<PushRequest> in = service.push(call);
    in.onNext(PushRequest.newBuilder().setHeader(PushHeader.newBuilder().setModel("models/m").setStep(step)).build());
    for (int i = 0; i < w.length; i++) {
      in.onNext(PushRequest.newBuilder().setChunk(TensorChunk.newBuilder().setTensor("w").setOffset(offsets[i])
          .setData(w[i])).build());
    }
    in.onNext(PushRequest.newBuilder().setChunk(TensorChunk.newBuilder().setTensor("u").setData(u)).build());
    in.onCompleted();
    return call;
  }

  @Test
  void elementsSentTwiceInOnePushAreRefusedAndAdjacentChunksAreNot() throws Exception {
    create();
    write("u", floats(1, 2));
    // w[1, 3) overlaps w[0, 2) in element 1 only
    RecordingCall<PushResponse> overlap = pushChunks(0, new long[] {0, 1}, new ByteString[] {floats(1, 1), floats(1, 1)},
        floats(0, 0));
    assertThat(overlap.done.await(10, TimeUnit.SECONDS)).isTrue();
    assertThat(status(overlap.error).getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(status(overlap.error).getDescription()).isEqualTo("elements [1, 3) of 'w' are sent twice in one push");
    // w[2, 4) after w[3, 4): the new chunk's last element was sent
    RecordingCall<PushResponse> tail = pushChunks(0, new long[] {3, 2}, new ByteString[] {floats(1), floats(1, 1)},
        floats(0, 0));
    assertThat(tail.done.await(10, TimeUnit.SECONDS)).isTrue();
    assertThat(status(tail.error).getDescription()).isEqualTo("elements [2, 4) of 'w' are sent twice in one push");
    // w[2, 4), then w[0, 2) and an empty chunk at 2: every element once
    RecordingCall<PushResponse> adjacent = pushChunks(0, new long[] {2, 0, 2},
        new ByteString[] {floats(3, 4), floats(1, 2), ByteString.EMPTY}, floats(2, 2));
    assertThat(adjacent.done.await(10, TimeUnit.SECONDS)).isTrue();
    assertThat(adjacent.error).isNull();
    RecordingCall<PullResponse> pulled = new RecordingCall<>();
    service.pull(PullRequest.newBuilder().setModel("models/m").setMinStep(1).build(), pulled);
    assertThat(pulled.done.await(10, TimeUnit.SECONDS)).isTrue();
    // sgd(1.0) from zeros: w = -g
    assertThat(pulled.messages().get(0).getChunk().getData()).isEqualTo(floats(-1, -2, -3, -4));
  }

  @Test
  void getProgressReportsTheCountersAfterTheLastStep() throws Exception {
    create();
    write("u", floats(1, 2));
    RecordingCall<PushResponse> first = push(0, floats(1, 1, 1, 1), floats(1, 1));
    first.done.await(10, TimeUnit.SECONDS);
    RecordingCall<PushResponse> retry = push(0, floats(1, 1, 1, 1), floats(1, 1));
    retry.done.await(10, TimeUnit.SECONDS);
    assertThat(retry.messages().get(0).getDuplicate()).isTrue();
    RecordingCall<PullResponse> pulled = new RecordingCall<>();
    service.pull(PullRequest.newBuilder().setModel("models/m").setMinStep(1).build(), pulled);
    pulled.done.await(10, TimeUnit.SECONDS);
    RecordingCall<ModelProgress> progress = new RecordingCall<>();
    service.getProgress(GetProgressRequest.newBuilder().setModel("models/m").build(), progress);
    assertThat(progress.messages()).containsExactly(ModelProgress.newBuilder().setModel("models/m").setStep(1)
        .setUpdatesApplied(1).setPushes(2).setDuplicates(1).build());
  }
}
