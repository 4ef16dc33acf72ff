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
import dev.shardopt.v1.ShardStart;
import java.util.concurrent.TimeUnit;
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
import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.shardopt.v1.Sgd;
import dev.shardopt.v1.OptimizerPipeline;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import dev.shardopt.worker.store.WorkerModel;
import dev.shardopt.v1.CreateShardsResponse;

/**
 * Fuzzes the Worker service's CreateShards and WriteParameters handlers with structurally valid but
 * adversarial messages: shapes with huge, negative or long-overflowing dimensions, shards with
 * negative (past 2^63), overlapping or out-of-range offsets and lengths, tensor indexes past the
 * model, NaN/inf/negative learning rates, unicode names, data chunks of any length.
 * Invariants: a request succeeds or fails with a StatusRuntimeException whose code is one a client
 * can act on (never UNKNOWN or INTERNAL, which is what an escaped NPE or ArithmeticException
 * becomes); a refused CreateShards leaves the store's models as they were; no allocation sized
 * from an unchecked field (the campaign's 256 MiB heap makes one an OutOfMemoryError).
 */
class WorkerServiceFuzzTest {
  private static final Set<Status.Code> ACTIONABLE = Set.of(Status.Code.INVALID_ARGUMENT,
      Status.Code.OUT_OF_RANGE, Status.Code.FAILED_PRECONDITION, Status.Code.ALREADY_EXISTS,
      Status.Code.NOT_FOUND, Status.Code.RESOURCE_EXHAUSTED);
  private static final long[] DIMS = {0, 1, 3, 4, -1, 1L << 31, 1L << 32, Long.MAX_VALUE, Long.MIN_VALUE, 1L << 40};

  /** A real ShardStore behind the service, with a coordinator that answers every barrier. */
  static final class Harness implements AutoCloseable {
    final ExecutorService pool = Executors.newCachedThreadPool();
    final ScheduledExecutorService timeouts = Executors.newSingleThreadScheduledExecutor();
    final ShardStore store = new ShardStore(COORDINATOR, new CpuBackend(new ParallelApply(pool, 1)),
        new ParallelApply(pool, 1), timeouts, new WorkerCheckpoints(Runnable::run, () -> "worker workers/w1"));
    final WorkerService service = new WorkerService(store, WorkerConfig.defaults("unused:1"));

    @Override
    public void close() {
      store.close();
      pool.shutdownNow();
      timeouts.shutdownNow();
    }
  }

  static final Pipeline sgd = Pipeline.parse("sgd(1.0)");
  static final StepCoordinator COORDINATOR = new StepCoordinator() {
    /** Updates applied so far, by model, as the real coordinator counts them (shared by every test of the harness). */
    private final java.util.Map<String, Long> updates = new java.util.HashMap<>();

    @Override
    public synchronized BarrierDecision decide(String model, long step, long generation, List<BlockStatistics> stats) {
      // Always deciding update 0 failed models/p at its second accepted push ("decision for update 0 but this
      // group is at 1"), which a CI campaign reached (input crash-75a2251b...).
      // step 0 is a new model's first (tests drop a model and create one of the same name)
      long t = step == 0 ? 0 : updates.getOrDefault(model, 0L);
      var d = StepDecider.decide(sgd, t, stats, List.of());
      updates.put(model, t + (d.applies() ? 1 : 0));
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
  static final Harness harness = new Harness();
  static final ShardStore store = harness.store;
  static final WorkerService service = harness.service;

  @AfterAll
  static void stop() {
    harness.close();
  }

  private static long dim(FuzzedDataProvider d) {
    return d.consumeBoolean() ? DIMS[d.consumeInt(0, DIMS.length - 1)] : d.consumeLong(-2, 64);
  }

  private static String name(FuzzedDataProvider d, String usual) {
    return d.consumeBoolean() ? usual : d.consumeString(12);
  }

  @FuzzTest(maxDuration = "8s")
  void createAndWrite(FuzzedDataProvider d) {
    String model = name(d, "models/m");
    Model.Builder spec = Model.newBuilder().setName(model);
    if (d.consumeBoolean()) {
      spec.setPipeline(sgd.toProto());
    } else {
      spec.setPipeline(OptimizerPipeline.newBuilder().setSgd(Sgd.newBuilder().setLr(d.consumeDouble())));
    }
    int tensors = d.consumeInt(0, 3);
    for (int i = 0; i < tensors; i++) {
      TensorSpec.Builder t = TensorSpec.newBuilder().setName(name(d, "t" + i));
      int rank = d.consumeInt(0, 3);
      for (int k = 0; k < rank; k++) {
        t.addShape(dim(d));
      }
      spec.addTensors(t);
    }
    CreateShardsRequest.Builder req = CreateShardsRequest.newBuilder().setModel(spec);
    int shards = d.consumeInt(0, 3);
    for (int i = 0; i < shards; i++) {
      req.addShards(Shard.newBuilder().setTensor(name(d, "t" + i)).setTensorIndex(d.consumeInt(-1, 3))
          .setOffset(dim(d)).setLength(dim(d)));
    }
    List<String> before = store.models().stream().map(WorkerModel::name).toList();
    RecordingCall<CreateShardsResponse> created = new RecordingCall<>();
    service.createShards(req.build(), created);
    if (created.error != null) {
      assertActionable(created.error);
      assertThat(store.models().stream().map(WorkerModel::name).toList()).isEqualTo(before);
      return;
    }
    try {
      RecordingCall<WriteParametersResponse> wrote = new RecordingCall<>();
      StreamObserver<TensorChunk> in = service.writeParameters(wrote);
      int chunks = d.consumeInt(0, 3);
      for (int i = 0; i < chunks; i++) {
        in.onNext(TensorChunk.newBuilder().setModel(name(d, model)).setTensor(name(d, "t" + i))
            .setOffset(dim(d)).setData(ByteString.copyFrom(d.consumeBytes(64))).build());
      }
      in.onCompleted();
      if (wrote.error != null) {
        assertActionable(wrote.error);
      }
    } finally {
      store.drop(model);
    }
  }

  /** models/p: w[8] and u[3], one trainer, sgd(1.0); pushed to by {@link #pushAndPull}. */
  static final String PUSHED = "models/p";

  static {
    RecordingCall<CreateShardsResponse> created = new RecordingCall<>();
    service.createShards(CreateShardsRequest.newBuilder().setModel(Model.newBuilder().setName(PUSHED)
            .setPipeline(sgd.toProto()).setTrainers(1)
            .addTensors(TensorSpec.newBuilder().setName("w").addShape(8))
            .addTensors(TensorSpec.newBuilder().setName("u").addShape(3)))
        .addShards(Shard.newBuilder().setTensor("w").setTensorIndex(0).setLength(8))
        .addShards(Shard.newBuilder().setTensor("u").setTensorIndex(1).setLength(3)).build(), created);
    if (created.error != null) {
      throw new IllegalStateException(created.error);
    }
  }

  /** One completed pull of every shard of {@link #PUSHED} at its current step: the step and the bytes, in order. */
  private static List<Object> snapshot() throws InterruptedException {
    return snapshot(0);
  }

  /** As {@link #snapshot()}, once the model has completed {@code minStep} steps (waiting up to 10 s). */
  private static List<Object> snapshot(long minStep) throws InterruptedException {
    RecordingCall<PullResponse> call = new RecordingCall<>();
    service.pull(PullRequest.newBuilder().setModel(PUSHED).setMinStep(minStep).build(), call);
    assertThat(call.done.await(10, TimeUnit.SECONDS)).as("a pull of step %d answers", minStep).isTrue();
    assertThat(call.error).isNull();
    List<Object> out = new ArrayList<>();
    for (PullResponse r : call.messages()) {
      out.add(r.getStep());
      out.add(r.getChunk());
    }
    return out;
  }

  private static long step(FuzzedDataProvider d, long current) {
    return switch (d.consumeInt(0, 4)) {
      case 0, 1 -> current;
      case 2 -> current - 1;
      case 3 -> current + 1;
      default -> d.consumeLong();
    };
  }

  private static TensorChunk chunk(FuzzedDataProvider d) {
    TensorChunk.Builder c = TensorChunk.newBuilder();
    c.setTensor(d.consumeBoolean() ? (d.consumeBoolean() ? "w" : "u") : d.consumeString(6));
    c.setOffset(d.consumeBoolean() ? d.consumeLong(0, 9) : dim(d));
    if (d.consumeBoolean()) {
      c.setModel(name(d, PUSHED));
    }
    int floats = d.consumeInt(0, 9);
    c.setData(d.consumeBoolean() ? ByteString.copyFrom(d.consumeBytes(floats * 4)) : ByteString.copyFrom(d.consumeBytes(37)));
    return c.build();
  }

  /**
   * Push streams and pulls of one live model: any trainer, step (the current, a past, the next or any
   * long), ASYNC-only header fields on this SYNC model, chunks of any tensor, offset and byte count
   * (odd ones included), headers repeated or missing, streams cut by the client. A refused push leaves
   * the model's step and parameters as they were; an accepted one moves the step by at most one. A
   * pull of any tensors and shard starts answers, or is refused with an actionable status.
   */
  @FuzzTest(maxDuration = "8s")
  void pushAndPull(FuzzedDataProvider d) throws InterruptedException {
    List<Object> before = snapshot();
    long current = (Long) before.get(0);
    PushHeader.Builder header = PushHeader.newBuilder().setModel(name(d, PUSHED))
        .setTrainer(d.consumeBoolean() ? 0 : d.consumeInt()).setStep(step(d, current));
    if (d.consumeBoolean()) {
      header.setGradientNormSquared(d.consumeDouble()).setNonFinite(d.consumeBoolean())
          .setPipelineGeneration(d.consumeLong());
    }
    RecordingCall<PushResponse> pushed = new RecordingCall<>();
    StreamObserver<PushRequest> in = service.push(pushed);
    int messages = d.consumeInt(0, 4);
    for (int i = 0; i < messages; i++) {
      PushRequest.Builder m = PushRequest.newBuilder();
      if (i == 0 ? !d.consumeBoolean() || d.consumeBoolean() : d.consumeInt(0, 7) == 0) {
        m.setHeader(header);
      }
      if (d.consumeInt(0, 5) != 0) {
        m.setChunk(chunk(d));
      }
      in.onNext(m.build());
    }
    boolean cut = d.consumeInt(0, 7) == 0;
    if (cut) {
      in.onError(Status.CANCELLED.withDescription("client cancelled").asRuntimeException());
    } else {
      in.onCompleted();
    }
    boolean answered = pushed.done.await(cut ? 0 : 10_000, TimeUnit.MILLISECONDS);
    assertThat(answered || cut).as("a completed push stream is answered").isTrue();
    List<Object> after;
    if (!answered || pushed.error != null) {
      // refused or cut: nothing may have changed
      if (pushed.error != null) {
        assertActionable(pushed.error);
      }
      after = snapshot();
      assertThat(after).as("a push that was not accepted changed the model").isEqualTo(before);
    } else {
      assertThat(pushed.messages()).hasSize(1);
      PushResponse r = pushed.messages().get(0);
      assertThat(r.getModelStep()).isIn(current, current + 1);
      if (r.getDuplicate()) {
        after = snapshot();
        assertThat(after).as("a duplicate push changed the model").isEqualTo(before);
      } else {
        // The step runs on the model's step executor after the answer. Taken without waiting, this snapshot
        // could still show `current`, and the step then completed during the next input, which saw a refused
        // push change the model or an accepted one move it by two (a local campaign's three findings).
        after = snapshot(current + 1);
        assertThat((Long) after.get(0)).as("the step after an accepted push").isEqualTo(current + 1);
      }
    }

    PullRequest.Builder pull = PullRequest.newBuilder().setModel(name(d, PUSHED))
        .setMinStep(d.consumeBoolean() ? 0 : (Long) after.get(0));
    int tensors = d.consumeInt(0, 2);
    for (int i = 0; i < tensors; i++) {
      pull.addTensors(d.consumeBoolean() ? (d.consumeBoolean() ? "w" : "u") : d.consumeString(6));
    }
    int starts = d.consumeInt(0, 2);
    for (int i = 0; i < starts; i++) {
      pull.addShards(ShardStart.newBuilder().setTensorIndex(d.consumeBoolean() ? d.consumeInt(0, 2) : d.consumeInt())
          .setOffset(d.consumeBoolean() ? d.consumeLong(0, 2) : d.consumeLong()));
    }
    RecordingCall<PullResponse> pulled = new RecordingCall<>();
    service.pull(pull.build(), pulled);
    assertThat(pulled.done.await(10, TimeUnit.SECONDS)).as("a pull of a step already reached answers").isTrue();
    if (pulled.error != null) {
      assertActionable(pulled.error);
    }
  }

  /** The harness itself: a model takes accepted pushes one after another (each barrier decides the next update). */
  @org.junit.jupiter.api.Test
  void theHarnessDecidesEveryStepsUpdate() throws InterruptedException {
    String model = "models/harness";
    RecordingCall<CreateShardsResponse> created = new RecordingCall<>();
    service.createShards(CreateShardsRequest.newBuilder().setModel(Model.newBuilder().setName(model)
            .setPipeline(sgd.toProto()).setTrainers(1).addTensors(TensorSpec.newBuilder().setName("w").addShape(3)))
        .addShards(Shard.newBuilder().setTensor("w").setTensorIndex(0).setLength(3)).build(), created);
    assertThat(created.error).isNull();
    try {
      for (long step = 0; step < 3; step++) {
        RecordingCall<PushResponse> pushed = new RecordingCall<>();
        StreamObserver<PushRequest> in = service.push(pushed);
        in.onNext(PushRequest.newBuilder().setHeader(PushHeader.newBuilder().setModel(model).setStep(step)).build());
        in.onNext(PushRequest.newBuilder().setChunk(TensorChunk.newBuilder().setTensor("w")
            .setData(TensorBytes.encode(new float[] {1, 2, 4}, 0, 3))).build());
        in.onCompleted();
        assertThat(pushed.done.await(10, TimeUnit.SECONDS)).isTrue();
        assertThat(pushed.error).as("push of step %d", step).isNull();
      }
      RecordingCall<PullResponse> pulled = new RecordingCall<>();
      service.pull(PullRequest.newBuilder().setModel(model).setMinStep(3).build(), pulled);
      assertThat(pulled.done.await(10, TimeUnit.SECONDS)).isTrue();
      assertThat(pulled.error).isNull();
      float[] w = new float[3];
      TensorBytes.decode(pulled.messages().get(0).getChunk().getData(), w, 0);
      assertThat(pulled.messages().get(0).getStep()).isEqualTo(3);
      assertThat(w).containsExactly(-3f, -6f, -12f); // three sgd(1.0) steps from zeros
    } finally {
      store.drop(model);
    }
  }

  private static void assertActionable(Throwable t) {
    assertThat(t).isInstanceOf(StatusRuntimeException.class);
    Status s = ((StatusRuntimeException) t).getStatus();
    assertThat(s.getCode()).as("%s", s).isIn(ACTIONABLE);
    assertThat(s.getDescription()).isNotBlank();
  }
}
