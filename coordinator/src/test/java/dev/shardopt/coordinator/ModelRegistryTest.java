package dev.shardopt.coordinator;

import dev.shardopt.v1.HeartbeatRequest;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.shardopt.dsl.Pipeline;
import dev.shardopt.rpc.ApiException;
import dev.shardopt.checkpoint.CheckpointReader;
import dev.shardopt.checkpoint.ShardWriter;
import dev.shardopt.engine.UpdateKernels;
import dev.shardopt.v1.CreateShardsRequest;
import dev.shardopt.v1.CreateShardsResponse;
import dev.shardopt.v1.HoldPushesResponse;
import dev.shardopt.v1.PersistShardsResponse;
import dev.shardopt.v1.SnapshotShardsResponse;
import java.io.IOException;
import java.nio.file.Path;
import dev.shardopt.v1.Initializer;
import dev.shardopt.v1.Model;
import dev.shardopt.v1.ModelMetrics;
import dev.shardopt.v1.ModelProgress;
import dev.shardopt.v1.PipelineGeneration;
import dev.shardopt.v1.PipelineSchedule;
import dev.shardopt.v1.ModelState;
import dev.shardopt.v1.Shard;
import dev.shardopt.v1.ShardMap;
import dev.shardopt.v1.StepMetrics;
import dev.shardopt.v1.TensorSpec;
import dev.shardopt.v1.TrainingMode;
import dev.shardopt.engine.BlockStatistics;
import dev.shardopt.engine.UpdateDecision;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.assertj.core.api.AbstractThrowableAssert;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ModelRegistryTest {
  private static final int B = 8192; // ReductionBlocks.BLOCK
  private static final String A1 = "host1:7001";
  private static final String A2 = "host2:7002";
  private static final String A3 = "host3:7003";

  /** A fleet that records every call and fails on the addresses it is told to. */
  static final class FakeFleet implements WorkerFleet {
    record Call(String kind, String address, Object request) {}

    final List<Call> calls = new CopyOnWriteArrayList<>();
    final Set<String> failCreateOn = new HashSet<>();
    RuntimeException failure = ApiException.unavailable("worker unreachable");
    /** What GetProgress answers, by address; an address without an entry fails with {@link #failure}. */
    final Map<String, ModelProgress> progress = new ConcurrentHashMap<>();
    /** The addresses GetProgress was asked of, in order (not in {@link #calls}: every describe asks). */
    final List<String> progressAsked = new CopyOnWriteArrayList<>();

    /** Restoring, reads its shards from the checkpoint as a worker does and answers the ranges read. */
    @Override
    public CreateShardsResponse createShards(String address, CreateShardsRequest request) {
      calls.add(new Call("create", address, request));
      if (failCreateOn.contains(address)) {
        throw failure;
      }
      CreateShardsResponse.Builder out = CreateShardsResponse.newBuilder();
      if (!request.hasRestore()) {
        return out.build();
      }
      List<String> slots = new ArrayList<>(List.of(""));
      slots.addAll(UpdateKernels.forRule(Pipeline.fromProto(request.getModel().getPipeline()).rule()).stateSlots());
      try (CheckpointReader r = CheckpointReader.open(Path.of(request.getRestore().getPath()))) {
        for (Shard s : request.getShardsList()) {
          for (String slot : slots) {
            if (s.getLength() > 0) {
              out.addRestored(r.readRange(s.getTensor(), slot, s.getOffset(), new float[(int) s.getLength()]).toProto());
            }
          }
        }
      } catch (IOException e) {
        throw ApiException.failedPrecondition("worker " + address + ": " + e.getMessage());
      }
      return out.build();
    }

    @Override
    public void dropModel(String address, String model) {
      calls.add(new Call("drop", address, model));
    }

    @Override
    public ModelProgress progress(String address, String model) {
      progressAsked.add(address);
      ModelProgress p = progress.get(address);
      if (p == null) {
        throw failure;
      }
      return p;
    }

    /** Addresses whose SnapshotShards or PersistShards fail, with what. */
    final Map<String, RuntimeException> failSnapshotOn = new ConcurrentHashMap<>();
    final Map<String, RuntimeException> failPersistOn = new ConcurrentHashMap<>();
    /** Runs in each SnapshotShards call before it answers (a test's latch), with the address. */
    volatile java.util.function.Consumer<String> beforeSnapshotAnswer = a -> {};

    @Override
    public SnapshotShardsResponse snapshotShards(String address, String model, long step, String path) {
      calls.add(new Call("snapshot", address, step));
      beforeSnapshotAnswer.accept(address);
      if (failSnapshotOn.containsKey(address)) {
        throw failSnapshotOn.get(address);
      }
      calls.add(new Call("snapshotted", address, step));
      return SnapshotShardsResponse.getDefaultInstance();
    }

    /** ASYNC: what HoldPushes answers, by address (each trainer's next push); SnapshotShards at a cut answers {@link #cutCopy}. */
    final Map<String, List<Long>> nextPushes = new ConcurrentHashMap<>();
    /** ASYNC: the counters a copy at a cut answers with, by address (absent: 5 updates, 1 skipped). */
    final Map<String, SnapshotShardsResponse> cutCopy = new ConcurrentHashMap<>();
    final Map<String, RuntimeException> failHoldOn = new ConcurrentHashMap<>();

    @Override
    public HoldPushesResponse holdPushes(String address, String model, boolean release) {
      calls.add(new Call(release ? "release" : "hold", address, model));
      if (release) {
        return HoldPushesResponse.getDefaultInstance();
      }
      if (failHoldOn.containsKey(address)) {
        throw failHoldOn.get(address);
      }
      return HoldPushesResponse.newBuilder().addAllNextPush(nextPushes.getOrDefault(address, List.of())).build();
    }

    @Override
    public SnapshotShardsResponse snapshotAtCut(String address, String model, long[] cut, String path) {
      calls.add(new Call("cut", address, java.util.stream.LongStream.of(cut).boxed().toList()));
      if (failSnapshotOn.containsKey(address)) {
        throw failSnapshotOn.get(address);
      }
      return cutCopy.getOrDefault(address, SnapshotShardsResponse.newBuilder().setUpdatesApplied(5).setStepsSkipped(1)
          .build());
    }

    /**
     * Writes {@link #value} into every element of the parameters and state slots of the shards that
     * the address was last asked to create of the model, as a worker writes its snapshot.
     */
    @Override
    public PersistShardsResponse persistShards(String address, String model, long step, String path) {
      calls.add(new Call("persist", address, path));
      if (failPersistOn.containsKey(address)) {
        throw failPersistOn.get(address);
      }
      CreateShardsRequest created = of("create").stream().filter(c -> c.address().equals(address))
          .map(c -> (CreateShardsRequest) c.request()).filter(r -> r.getModel().getName().equals(model))
          .reduce((first, last) -> last).orElseThrow();
      List<String> slots = new ArrayList<>(List.of(""));
      slots.addAll(UpdateKernels.forRule(Pipeline.fromProto(created.getModel().getPipeline()).rule()).stateSlots());
      PersistShardsResponse.Builder out = PersistShardsResponse.newBuilder();
      try (ShardWriter w = ShardWriter.open(Path.of(path))) {
        for (Shard s : created.getShardsList()) {
          for (int slot = 0; slot < slots.size(); slot++) {
            float[] v = new float[(int) s.getLength()];
            for (int i = 0; i < v.length; i++) {
              v[i] = value(s.getTensorIndex(), slot, s.getOffset() + i);
            }
            out.addRanges(w.write(s.getTensor(), slots.get(slot), s.getOffset(), v).toProto());
          }
        }
      } catch (IOException e) {
        throw new ApiException(Status.Code.INTERNAL, "worker " + address + ": " + e.getMessage());
      }
      return out.build();
    }

    /** What the fake writes at an element of a tensor's parameters (slot 0) or state slot (1, 2...). */
    static float value(int tensor, int slot, long element) {
      return tensor * 1000 + slot * 100 + element % 89;
    }

    List<String> summary() {
      List<String> out = new ArrayList<>();
      for (Call c : calls) {
        out.add(c.kind() + " " + c.address());
      }
      return out;
    }

    List<Call> of(String kind) {
      return calls.stream().filter(c -> c.kind().equals(kind)).toList();
    }
  }

  private final AtomicLong now = new AtomicLong(1_000_000);
  private final WorkerRegistry workers = new WorkerRegistry(500, 6, now::get);
  private final FakeFleet fleet = new FakeFleet();
  private final AtomicLong nanos = new AtomicLong(42_000_000_000L);
  private ScheduledExecutorService timer;

  @BeforeEach
  void start() {
    timer = Executors.newSingleThreadScheduledExecutor();
  }

  @AfterEach
  void stop() throws InterruptedException {
    timer.shutdownNow();
    assertThat(timer.awaitTermination(5, TimeUnit.SECONDS)).isTrue();
  }

  private ModelRegistry registry() {
    return registry(30_000);
  }

  private ModelRegistry registry(long barrierTimeoutMillis) {
    return new ModelRegistry(workers, fleet, timer,
        CoordinatorConfig.defaults().withBarrierTimeoutMillis(barrierTimeoutMillis), ScheduleLockHooks.NONE, nanos::get);
  }

  static TensorSpec tensor(String name, long... shape) {
    TensorSpec.Builder b = TensorSpec.newBuilder().setName(name)
        .setInit(Initializer.newBuilder().setZeros(Initializer.Zeros.getDefaultInstance()));
    for (long d : shape) {
      b.addShape(d);
    }
    return b.build();
  }

  static Model model(String pipeline, TensorSpec... tensors) {
    return Model.newBuilder().setPipeline(Pipeline.parse(pipeline).toProto()).addAllTensors(List.of(tensors)).build();
  }

  /**
   * "a" [2, 8192] (2 blocks) and "b" [10, 10] (1 block): 3 blocks on 2 workers, cut after block 1:
   * w1 holds a[0, 8192), w2 holds a[8192, 16384) and b[0, 100).
   */
  static Model twoWorkerModel(String pipeline) {
    return model(pipeline, tensor("a", 2, B), tensor("b", 10, 10));
  }

  private static Shard shard(String tensor, int index, long offset, long length, int worker, String address) {
    return Shard.newBuilder().setTensor(tensor).setTensorIndex(index).setOffset(offset).setLength(length)
        .setWorker("workers/w" + worker).setAddress(address).build();
  }

  private void twoWorkers() {
    assertThat(workers.register(A1)).isEqualTo("workers/w1");
    assertThat(workers.register(A2)).isEqualTo("workers/w2");
  }

  static AbstractThrowableAssert<?, ? extends Throwable> assertApiError(Executable call, Status.Code code) {
    try {
      call.execute();
    } catch (ApiException e) {
      assertThat(e.code()).as("code of %s", e.getMessage()).isEqualTo(code);
      return assertThat((Throwable) e);
    } catch (Throwable t) {
      throw new AssertionError("expected an ApiException " + code + ", got " + t, t);
    }
    throw new AssertionError("expected an ApiException " + code + ", got no exception");
  }

  static BlockStatistics stat(int tensor, int firstBlock, double... sums) {
    return new BlockStatistics(tensor, firstBlock, sums, -1);
  }

  /** Both workers report a step prepared under {@code generation}; returns the (common) decision. */
  static DecidedStep step(ModelRegistry r, String model, long step, long generation, List<BlockStatistics> w1,
      List<BlockStatistics> w2) {
    RecordingReply r1 = new RecordingReply();
    RecordingReply r2 = new RecordingReply();
    r.reportStep(model, "workers/w1", step, generation, w1, r1);
    assertThat(r1.answered()).as("w1 waits for w2").isFalse();
    r.reportStep(model, "workers/w2", step, generation, w2, r2);
    DecidedStep d = r1.decision();
    assertThat(r2.decision()).isSameAs(d);
    return d;
  }

  private static UpdateDecision step(ModelRegistry r, String model, long step, List<BlockStatistics> w1,
      List<BlockStatistics> w2) {
    return step(r, model, step, 0, w1, w2).decision();
  }

  /** A step of norm 0.5 (block sums 0.0625 + 0.1875) under {@code generation}. */
  static DecidedStep finiteStep(ModelRegistry r, String model, long step, long generation) {
    return step(r, model, step, generation, List.of(stat(0, 0, 0.0625)), List.of(stat(0, 1, 0.1875), stat(1, 0, 0.0)));
  }

  private static UpdateDecision finiteStep(ModelRegistry r, String model, long step) {
    return finiteStep(r, model, step, 0).decision();
  }

  static PipelineGeneration generation(long generation, long fromStep, String pipeline) {
    return PipelineGeneration.newBuilder().setGeneration(generation).setFromStep(fromStep)
        .setPipeline(Pipeline.parse(pipeline).toProto()).build();
  }

  /** The horizon, read without moving it (fixing through step 0 never does). */
  static long fixedThrough(ModelRegistry r, String model) {
    return r.pipelineSchedule(model, 0).getFixedThrough();
  }

  // ---------------------------------------------------------------- create

  @Test
  void aShapeWhoseProductPassesALongIsInvalidArgumentAndAZeroDimensionMakesItEmpty() {
    twoWorkers();
    ModelRegistry r = registry();
    // a fuzzing finding: 2^32 x 2^32 overflowed Math.multiplyExact and answered INTERNAL
    assertApiError(() -> r.create("big", model("sgd(0.1)", tensor("w", 1L << 32, 1L << 32))), Status.Code.INVALID_ARGUMENT)
        .hasMessage("tensor 'w' of shape [4294967296, 4294967296] has more than 2^63 elements; at most 2147483639 per"
            + " tensor (split it)");
    assertThat(r.list()).isEmpty();
    Model m = r.create("empty", model("sgd(0.1)", tensor("w", 1L << 32, 1L << 32, 0)));
    assertThat(r.shardMap(m.getName()).getShards(0).getLength()).isZero();
  }

  @Test
  void createPlacesShardsOnTheWorkersAndDescribesTheModel() {
    twoWorkers();
    ModelRegistry r = registry();
    Model m = r.create("m1", twoWorkerModel("sgd(0.1).clipNorm(1.0)"));

    assertThat(m.getName()).isEqualTo("models/m1");
    assertThat(m.getState()).isEqualTo(ModelState.READY);
    assertThat(m.getTrainers()).isEqualTo(1);
    assertThat(m.getMode()).isEqualTo(TrainingMode.SYNC);
    assertThat(Pipeline.fromProto(m.getPipeline())).isEqualTo(Pipeline.parse("sgd(0.1).clipNorm(1.0)"));
    assertThat(m.getUpdatesApplied()).isZero();
    assertThat(m.getStepsSkipped()).isZero();
    assertThat(m.getTensorsList()).extracting(TensorSpec::getName).containsExactly("a", "b");

    Shard w1a = shard("a", 0, 0, B, 1, A1);
    Shard w2a = shard("a", 0, B, B, 2, A2);
    Shard w2b = shard("b", 1, 0, 100, 2, A2);
    assertThat(fleet.summary()).containsExactly("create " + A1, "create " + A2);
    CreateShardsRequest c1 = (CreateShardsRequest) fleet.calls.get(0).request();
    CreateShardsRequest c2 = (CreateShardsRequest) fleet.calls.get(1).request();
    assertThat(c1.getShardsList()).containsExactly(w1a);
    assertThat(c2.getShardsList()).containsExactly(w2a, w2b);
    assertThat(c1.getModel().getName()).isEqualTo("models/m1");
    assertThat(c2.getModel().getTensorsCount()).isEqualTo(2);

    ShardMap map = r.shardMap("models/m1");
    assertThat(map.getModel()).isEqualTo("models/m1");
    assertThat(map.getBlockSize()).isEqualTo(B);
    assertThat(map.getShardsList()).containsExactly(w1a, w2a, w2b);
    assertThat(r.shardsByWorker()).isEqualTo(Map.of("workers/w1", 1, "workers/w2", 2));

    assertThat(r.get("models/m1")).isEqualTo(m);
    assertThat(r.list()).containsExactly(m);
  }

  @Test
  void shardMapCoversEveryTensorOnThreeWorkers() {
    workers.register(A1);
    workers.register(A2);
    workers.register(A3);
    ModelRegistry r = registry();
    long[] sizes = {3L * B + 17, 5, 0, 2L * B};
    r.create("cover", model("adam(1e-3)", tensor("t0", 3 * B + 17), tensor("t1", 5), tensor("t2", 0, 4),
        tensor("t3", 2, 4, B / 4)));
    ShardMap map = r.shardMap("models/cover");
    for (int t = 0; t < sizes.length; t++) {
      int index = t;
      List<Shard> shards = map.getShardsList().stream().filter(s -> s.getTensorIndex() == index).toList();
      assertThat(shards).as("tensor %d appears", t).isNotEmpty();
      long next = 0;
      for (Shard s : shards) {
        assertThat(s.getTensor()).isEqualTo("t" + t);
        assertThat(s.getOffset()).isEqualTo(next);
        assertThat(s.getOffset() % B).isZero();
        next += s.getLength();
      }
      assertThat(next).as("tensor %d covered", t).isEqualTo(sizes[t]);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "Upper", "-lead", ".lead", "has space", "models/x", "a/b", "ünïcode",
      "a123456789012345678901234567890123456789012345678901234567890123"}) // 64 characters: one too many
  void badModelIdIsInvalidArgument(String id) {
    twoWorkers();
    ModelRegistry r = registry();
    assertApiError(() -> r.create(id, twoWorkerModel("sgd(0.1)")), Status.Code.INVALID_ARGUMENT)
        .hasMessageContaining("model_id");
    assertThat(fleet.calls).isEmpty();
  }

  @Test
  void nullModelIdIsInvalidArgument() {
    twoWorkers();
    assertApiError(() -> registry().create(null, twoWorkerModel("sgd(0.1)")), Status.Code.INVALID_ARGUMENT)
        .hasMessageContaining("model_id");
  }

  @ParameterizedTest
  @ValueSource(strings = {"a", "0", "a.b-c_d", "a12345678901234567890123456789012345678901234567890123456789012"})
  void goodModelIdsAreAccepted(String id) {
    twoWorkers();
    assertThat(registry().create(id, twoWorkerModel("sgd(0.1)")).getName()).isEqualTo("models/" + id);
  }

  @Test
  void emptyTensorListIsInvalidArgument() {
    twoWorkers();
    Model m = Model.newBuilder().setPipeline(Pipeline.parse("sgd(0.1)").toProto()).build();
    assertApiError(() -> registry().create("m", m), Status.Code.INVALID_ARGUMENT).hasMessageContaining("model.tensors");
    assertThat(fleet.calls).isEmpty();
  }

  @Test
  void emptyTensorNameIsInvalidArgument() {
    twoWorkers();
    assertApiError(() -> registry().create("m", model("sgd(0.1)", tensor("", 4))), Status.Code.INVALID_ARGUMENT)
        .hasMessageContaining("model.tensors[0].name");
  }

  @Test
  void duplicateTensorNameIsInvalidArgument() {
    twoWorkers();
    assertApiError(() -> registry().create("m", model("sgd(0.1)", tensor("w", 4), tensor("w", 8))),
        Status.Code.INVALID_ARGUMENT)
        .hasMessageContaining("model.tensors[1].name").hasMessageContaining("'w'");
    assertThat(fleet.calls).isEmpty();
  }

  @Test
  void negativeDimensionIsInvalidArgument() {
    twoWorkers();
    assertApiError(() -> registry().create("m", model("sgd(0.1)", tensor("ok", 3), tensor("w", 2, -1))),
        Status.Code.INVALID_ARGUMENT)
        .hasMessageContaining("'w'").hasMessageContaining("negative").hasMessageContaining("shape");
    assertThat(fleet.calls).isEmpty();
  }

  @Test
  void tooLargeTensorIsInvalidArgument() {
    twoWorkers();
    assertApiError(() -> registry().create("m", model("sgd(0.1)", tensor("huge", 1L << 16, 1L << 16))),
        Status.Code.INVALID_ARGUMENT).hasMessageContaining("'huge'");
  }

  @Test
  void missingPipelineIsInvalidArgument() {
    twoWorkers();
    Model m = Model.newBuilder().addTensors(tensor("w", 4)).build();
    assertApiError(() -> registry().create("m", m), Status.Code.INVALID_ARGUMENT).hasMessageContaining("model.pipeline");
    assertThat(fleet.calls).isEmpty();
  }

  @Test
  void stalenessOnASyncModelIsInvalidArgument() {
    twoWorkers();
    ModelRegistry r = registry();
    Model sync = twoWorkerModel("sgd(0.1)").toBuilder().setMode(TrainingMode.SYNC).setStaleness(2).build();
    assertApiError(() -> r.create("m", sync), Status.Code.INVALID_ARGUMENT).hasMessageContaining("model.staleness");
    Model unspecified = twoWorkerModel("sgd(0.1)").toBuilder().setStaleness(2).build(); // read as SYNC
    assertApiError(() -> r.create("m", unspecified), Status.Code.INVALID_ARGUMENT)
        .hasMessageContaining("model.staleness");
    assertThat(fleet.calls).isEmpty();

    Model async = twoWorkerModel("sgd(0.1)").toBuilder().setMode(TrainingMode.ASYNC).setStaleness(2).build();
    Model created = r.create("m", async);
    assertThat(created.getMode()).isEqualTo(TrainingMode.ASYNC);
    assertThat(created.getStaleness()).isEqualTo(2);
  }

  @Test
  void tooManyTrainersIsInvalidArgument() {
    twoWorkers();
    Model m = twoWorkerModel("sgd(0.1)").toBuilder().setTrainers(1025).build();
    assertApiError(() -> registry().create("m", m), Status.Code.INVALID_ARGUMENT).hasMessageContaining("model.trainers");
  }

  @Test
  void twoLrScaleGlobsMatchingOneTensorIsInvalidArgument() {
    twoWorkers();
    Model m = model("sgd(0.1).lrScale(\"enc.*\", 0.5).lrScale(\"*.weight\", 2)",
        tensor("dec.weight", 4), tensor("enc.weight", 4));
    assertApiError(() -> registry().create("m", m), Status.Code.INVALID_ARGUMENT)
        .hasMessageContaining("model.pipeline").hasMessageContaining("enc.weight").hasMessageContaining("lrScale");
    assertThat(fleet.calls).isEmpty();
  }

  @Test
  void invalidInitializerIsInvalidArgument() {
    twoWorkers();
    TensorSpec bad = TensorSpec.newBuilder().setName("w").addShape(4)
        .setInit(Initializer.newBuilder().setNormal(Initializer.Normal.newBuilder().setMean(0).setStd(-1))).build();
    assertApiError(() -> registry().create("m", model("sgd(0.1)", bad)), Status.Code.INVALID_ARGUMENT)
        .hasMessageContaining("'w'").hasMessageContaining("std");
  }

  @Test
  void noHealthyWorkersIsUnavailable() {
    ModelRegistry r = registry();
    assertApiError(() -> r.create("m", twoWorkerModel("sgd(0.1)")), Status.Code.UNAVAILABLE)
        .hasMessageContaining("models/m");

    twoWorkers();
    now.addAndGet(500 * 6 + 1); // both silent for longer than six heartbeat intervals
    assertApiError(() -> r.create("m", twoWorkerModel("sgd(0.1)")), Status.Code.UNAVAILABLE);
    assertThat(fleet.calls).isEmpty();
    assertApiError(() -> r.get("models/m"), Status.Code.NOT_FOUND);
  }

  @Test
  void unhealthyWorkersGetNoShards() {
    twoWorkers();
    workers.markUnhealthy("workers/w1");
    ModelRegistry r = registry();
    r.create("m", twoWorkerModel("sgd(0.1)"));
    assertThat(r.shardMap("models/m").getShardsList()).extracting(Shard::getWorker).containsOnly("workers/w2");
    assertThat(fleet.summary()).containsExactly("create " + A2);
  }

  @Test
  void duplicateIdIsAlreadyExists() {
    twoWorkers();
    ModelRegistry r = registry();
    r.create("m", twoWorkerModel("sgd(0.1)"));
    fleet.calls.clear();
    assertApiError(() -> r.create("m", twoWorkerModel("adam(1e-3)")), Status.Code.ALREADY_EXISTS)
        .hasMessageContaining("models/m");
    assertThat(fleet.calls).isEmpty();
    assertThat(Pipeline.fromProto(r.get("models/m").getPipeline())).isEqualTo(Pipeline.parse("sgd(0.1)"));
  }

  @Test
  void aWorkerFailingDuringCreateLeavesNothingBehind() {
    twoWorkers();
    fleet.failCreateOn.add(A2);
    ModelRegistry r = registry();
    RuntimeException failure = fleet.failure;
    assertThatThrownBy(() -> r.create("m", twoWorkerModel("sgd(0.1)"))).isSameAs(failure);

    assertThat(fleet.summary()).startsWith("create " + A1, "create " + A2).contains("drop " + A1);
    assertThat(fleet.of("drop")).filteredOn(c -> c.address().equals(A1)).singleElement()
        .satisfies(c -> assertThat(c.request()).isEqualTo("models/m"));
    assertApiError(() -> r.get("models/m"), Status.Code.NOT_FOUND);
    assertApiError(() -> r.shardMap("models/m"), Status.Code.NOT_FOUND);
    assertThat(r.list()).isEmpty();
    assertThat(r.shardsByWorker()).isEmpty();

    // the id is free again
    fleet.failCreateOn.clear();
    assertThat(r.create("m", twoWorkerModel("sgd(0.1)")).getName()).isEqualTo("models/m");
  }

  @Test
  void anUnexpectedFleetErrorDuringCreateIsUnavailable() {
    twoWorkers();
    fleet.failCreateOn.add(A2);
    fleet.failure = new IllegalStateException("connection reset");
    ModelRegistry r = registry();
    assertApiError(() -> r.create("m", twoWorkerModel("sgd(0.1)")), Status.Code.UNAVAILABLE)
        .hasMessageContaining("models/m").hasMessageContaining("connection reset");
    assertThat(fleet.summary()).contains("drop " + A1);
    assertApiError(() -> r.get("models/m"), Status.Code.NOT_FOUND);
  }

  @Test
  void uploadedTensorsKeepTheModelLoadingUntilEveryHolderReportedLoaded() {
    twoWorkers();
    TensorSpec up = TensorSpec.newBuilder().setName("a").addShape(2).addShape(B)
        .setInit(Initializer.newBuilder().setUpload(Initializer.Upload.getDefaultInstance())).build();
    ModelRegistry r = registry();
    assertThat(r.create("m", model("sgd(0.1)", up, tensor("b", 10, 10))).getState()).isEqualTo(ModelState.LOADING);
    r.reportLoaded("models/m", "workers/w1");
    assertThat(r.get("models/m").getState()).isEqualTo(ModelState.LOADING);
    r.reportLoaded("models/m", "workers/w2");
    assertThat(r.get("models/m").getState()).isEqualTo(ModelState.READY);
  }

  @Test
  void unknownModelIsNotFound() {
    ModelRegistry r = registry();
    assertApiError(() -> r.get("models/nope"), Status.Code.NOT_FOUND).hasMessageContaining("models/nope");
    assertApiError(() -> r.get("nope"), Status.Code.NOT_FOUND).hasMessageContaining("models/{id}");
    assertApiError(() -> r.metrics("models/nope", 0), Status.Code.NOT_FOUND);
    assertApiError(() -> r.reportStep("models/nope", "workers/w1", 0, 0, List.of(), new RecordingReply()),
        Status.Code.NOT_FOUND);
    assertApiError(() -> r.delete("models/nope"), Status.Code.NOT_FOUND);
  }

  @Test
  void deleteDropsEverywhereAndFailsWaitingReports() {
    twoWorkers();
    ModelRegistry r = registry();
    r.create("m", twoWorkerModel("sgd(0.1)"));
    RecordingReply waiting = new RecordingReply();
    r.reportStep("models/m", "workers/w1", 0, 0, List.of(stat(0, 0, 1)), waiting);
    fleet.calls.clear();

    r.delete("models/m");
    assertThat(fleet.summary()).containsExactlyInAnyOrder("drop " + A1, "drop " + A2);
    assertThat(waiting.failure().code()).isEqualTo(Status.Code.NOT_FOUND);
    assertApiError(() -> r.get("models/m"), Status.Code.NOT_FOUND);
    assertThat(r.list()).isEmpty();
    assertThat(r.shardsByWorker()).isEmpty();
  }

  // ---------------------------------------------------------------- pipeline schedule

  @Test
  void updatePipelineAddsAGenerationAndCallsNoWorker() {
    twoWorkers();
    ModelRegistry r = registry();
    r.create("m", twoWorkerModel("sgd(0.1)"));
    fleet.calls.clear();

    Model m = r.updatePipeline("models/m", Pipeline.parse("sgd(0.05).clipNorm(2.0)").toProto(), 10);
    assertThat(Pipeline.fromProto(m.getPipeline())).isEqualTo(Pipeline.parse("sgd(0.05).clipNorm(2.0)"));
    assertThat(m.getPipelineText()).isEqualTo("sgd(0.05).clipNorm(2.0)");
    assertThat(m.getPipelineScheduleList())
        .containsExactly(generation(0, 0, "sgd(0.1)"), generation(1, 10, "sgd(0.05).clipNorm(2.0)"));
    assertThat(r.get("models/m")).isEqualTo(m);
    assertThat(fleet.calls).as("no fan-out: the workers follow the schedule").isEmpty();
  }

  @Test
  void aNewModelHasGenerationZeroInItsSchedule() {
    twoWorkers();
    Model m = registry().create("m", twoWorkerModel("sgd(0.1)"));
    assertThat(m.getPipelineScheduleList()).containsExactly(generation(0, 0, "sgd(0.1)"));
  }

  @Test
  void updatePipelineRefusesChangingTheRule() {
    twoWorkers();
    ModelRegistry r = registry();
    Model before = r.create("m", twoWorkerModel("sgd(0.1)"));
    assertApiError(() -> r.updatePipeline("models/m", Pipeline.parse("adam(1e-3)").toProto(), 3),
        Status.Code.FAILED_PRECONDITION).hasMessageContaining("base rule");
    assertThat(r.get("models/m")).isEqualTo(before);
  }

  @Test
  void updatePipelineRefusesAStepBeforeAScheduledChangeAndTheLaterOneAtAStepWins() {
    twoWorkers();
    ModelRegistry r = registry();
    r.create("m", twoWorkerModel("sgd(0.1)"));
    r.updatePipeline("models/m", Pipeline.parse("sgd(0.05)").toProto(), 2);
    Model before = r.get("models/m");
    assertApiError(() -> r.updatePipeline("models/m", Pipeline.parse("sgd(0.01)").toProto(), 1),
        Status.Code.FAILED_PRECONDITION)
        .hasMessageContaining("at_step 1").hasMessageContaining("generation 1, scheduled at step 2")
        .hasMessageContaining("choose at_step 2 or later");
    assertThat(r.get("models/m")).isEqualTo(before);

    Model m = r.updatePipeline("models/m", Pipeline.parse("sgd(0.02)").toProto(), 2);
    assertThat(m.getPipelineScheduleList()).containsExactly(generation(0, 0, "sgd(0.1)"),
        generation(1, 2, "sgd(0.05)"), generation(2, 2, "sgd(0.02)"));
    assertThat(Pipeline.fromProto(m.getPipeline())).isEqualTo(Pipeline.parse("sgd(0.02)"));
    finiteStep(r, "models/m", 0);
    finiteStep(r, "models/m", 1);
    DecidedStep s2 = finiteStep(r, "models/m", 2, 2);
    assertThat(s2.generation()).isEqualTo(2);
    assertThat(s2.decision().learningRate()).isCloseTo(0.02, within(1e-15));
  }

  @Test
  void updatePipelineRefusesTwoLrScaleGlobsOnOneTensor() {
    twoWorkers();
    ModelRegistry r = registry();
    Model before = r.create("m", model("sgd(0.1)", tensor("enc.weight", 2, B), tensor("b", 3)));
    assertApiError(() -> r.updatePipeline("models/m",
            Pipeline.parse("sgd(0.1).lrScale(\"enc.*\", 0.5).lrScale(\"*.weight\", 2)").toProto(), 1),
        Status.Code.INVALID_ARGUMENT).hasMessageContaining("pipeline: ").hasMessageContaining("enc.weight");
    assertThat(r.get("models/m")).isEqualTo(before);
  }

  @Test
  void updatePipelineRefusesAMissingPipelineAndAStepOutOfRange() {
    twoWorkers();
    ModelRegistry r = registry();
    Model before = r.create("m", twoWorkerModel("sgd(0.1)"));
    assertApiError(() -> r.updatePipeline("models/m", null, 3), Status.Code.INVALID_ARGUMENT)
        .hasMessageContaining("pipeline is missing");
    assertApiError(() -> r.updatePipeline("models/m", Pipeline.parse("sgd(0.2)").toProto(), -1),
        Status.Code.INVALID_ARGUMENT)
        .hasMessageContaining("at_step 18446744073709551615").hasMessageContaining("at most 9223372036854775807");
    assertApiError(() -> r.pipelineSchedule("models/m", -2), Status.Code.INVALID_ARGUMENT)
        .hasMessageContaining("through_step 18446744073709551614");
    assertApiError(() -> r.reportStep("models/m", "workers/w1", -1, 0, List.of(), new RecordingReply()),
        Status.Code.INVALID_ARGUMENT).hasMessageContaining("step 18446744073709551615");
    assertThat(r.get("models/m")).isEqualTo(before);
    assertThat(fixedThrough(r, "models/m")).isZero();
  }

  @Test
  void aChangeAtAStepAWorkerMayHaveStartedIsRefusedAndChangesNothing() {
    twoWorkers();
    ModelRegistry r = registry();
    Model created = r.create("m", twoWorkerModel("sgd(0.1)"));
    assertApiError(() -> r.updatePipeline("models/m", Pipeline.parse("sgd(0.5)").toProto(), 0),
        Status.Code.FAILED_PRECONDITION)
        .hasMessageContaining("at_step 0 of models/m").hasMessageContaining("fixed through step 0")
        .hasMessageContaining("choose at_step 1 or later");
    assertThat(r.get("models/m")).isEqualTo(created);

    finiteStep(r, "models/m", 0);
    finiteStep(r, "models/m", 1); // fixed through step 2 now
    Model before = r.get("models/m");
    for (long atStep : new long[] {1, 2}) {
      assertApiError(() -> r.updatePipeline("models/m", Pipeline.parse("sgd(0.5)").toProto(), atStep),
          Status.Code.FAILED_PRECONDITION)
          .hasMessageContaining("at_step " + atStep).hasMessageContaining("fixed through step 2")
          .hasMessageContaining("choose at_step 3 or later");
    }
    assertThat(r.get("models/m")).isEqualTo(before);
    assertThat(before.getPipelineScheduleList()).containsExactly(generation(0, 0, "sgd(0.1)"));
    assertThat(fixedThrough(r, "models/m")).isEqualTo(2);
    DecidedStep s2 = finiteStep(r, "models/m", 2, 0);
    assertThat(s2.generation()).isZero();
    assertThat(s2.latestGeneration()).isZero();
    assertThat(s2.decision().learningRate()).isCloseTo(0.1, within(1e-15));
  }

  @Test
  void getPipelineScheduleFixesTheScheduleThroughTheStep() {
    twoWorkers();
    ModelRegistry r = registry();
    r.create("m", twoWorkerModel("sgd(0.1)"));
    assertThat(r.pipelineSchedule("models/m", 3)).isEqualTo(PipelineSchedule.newBuilder()
        .addGenerations(generation(0, 0, "sgd(0.1)")).setFixedThrough(3).build());
    assertApiError(() -> r.updatePipeline("models/m", Pipeline.parse("sgd(0.05)").toProto(), 3),
        Status.Code.FAILED_PRECONDITION).hasMessageContaining("choose at_step 4 or later");
    r.updatePipeline("models/m", Pipeline.parse("sgd(0.05)").toProto(), 4);

    assertThat(r.pipelineSchedule("models/m", 1)).as("the horizon never moves back").isEqualTo(
        PipelineSchedule.newBuilder().addGenerations(generation(0, 0, "sgd(0.1)"))
            .addGenerations(generation(1, 4, "sgd(0.05)")).setFixedThrough(3).build());
    assertThat(r.pipelineSchedule("models/m", 4).getFixedThrough()).isEqualTo(4);
    assertApiError(() -> r.pipelineSchedule("models/nope", 1), Status.Code.NOT_FOUND).hasMessageContaining("models/nope");
    assertApiError(() -> r.updatePipeline("models/nope", Pipeline.parse("sgd(0.05)").toProto(), 9),
        Status.Code.NOT_FOUND).hasMessageContaining("models/nope");
  }

  @Test
  void aDecisionNamesItsGenerationTheNewHorizonAndTheNewestGeneration() {
    twoWorkers();
    ModelRegistry r = registry();
    r.create("m", twoWorkerModel("sgd(0.1)"));
    assertThat(finiteStep(r, "models/m", 0, 0)).extracting(DecidedStep::step, DecidedStep::generation,
        DecidedStep::fixedThrough, DecidedStep::latestGeneration).containsExactly(0L, 0L, 1L, 0L);
    r.updatePipeline("models/m", Pipeline.parse("sgd(0.05)").toProto(), 3);
    assertThat(finiteStep(r, "models/m", 1, 0)).extracting(DecidedStep::step, DecidedStep::generation,
        DecidedStep::fixedThrough, DecidedStep::latestGeneration).containsExactly(1L, 0L, 2L, 1L);
    assertThat(r.pipelineSchedule("models/m", 5).getFixedThrough()).isEqualTo(5);
    assertThat(finiteStep(r, "models/m", 2, 0).fixedThrough()).as("a decision never lowers the horizon").isEqualTo(5);
    DecidedStep s3 = finiteStep(r, "models/m", 3, 1);
    assertThat(s3).extracting(DecidedStep::generation, DecidedStep::fixedThrough).containsExactly(1L, 5L);
    assertThat(s3.decision().learningRate()).isCloseTo(0.05, within(1e-15));
    assertThat(r.metrics("models/m", 0).getStepsList()).extracting(StepMetrics::getGeneration)
        .containsExactly(0L, 0L, 0L, 1L);
  }

  @Test
  void aReportUnderAnotherGenerationThanTheSchedulesFailsTheStepAndDecidesNothing() {
    twoWorkers();
    ModelRegistry r = registry();
    r.create("m", twoWorkerModel("sgd(0.1)"));
    r.updatePipeline("models/m", Pipeline.parse("sgd(0.05)").toProto(), 1);
    RecordingReply r1 = new RecordingReply();
    RecordingReply r2 = new RecordingReply();
    r.reportStep("models/m", "workers/w1", 0, 0, List.of(stat(0, 0, 1)), r1);
    r.reportStep("models/m", "workers/w2", 0, 1, List.of(stat(0, 1, 1)), r2);
    for (RecordingReply reply : List.of(r1, r2)) {
      ApiException e = reply.failure();
      assertThat(e.code()).isEqualTo(Status.Code.FAILED_PRECONDITION);
      assertThat(e.getMessage()).contains("step 0 of models/m").contains("generation 0 in force")
          .contains("workers/w2 prepared it under generation 1").doesNotContain("workers/w1");
    }
    assertThat(r.metrics("models/m", 0).getStepsList()).isEmpty();
    assertThat(r.get("models/m").getUpdatesApplied()).isZero();
    assertThat(fixedThrough(r, "models/m")).isZero();

    // the step can still be decided, under the schedule's generation
    assertThat(finiteStep(r, "models/m", 0, 0).generation()).isZero();
    assertThat(r.get("models/m").getState()).isEqualTo(ModelState.READY);
  }

  // ---------------------------------------------------------------- GetModel.step

  @Test
  void getModelStepIsTheLeastStepTheWorkersReportNow() {
    twoWorkers();
    ModelRegistry r = registry();
    r.create("m", twoWorkerModel("sgd(0.1)"));
    workers.heartbeat(HeartbeatRequest.newBuilder().setWorker("workers/w1")
        .addModels(ModelProgress.newBuilder().setModel("models/m").setStep(3).setPushes(3)).build());
    fleet.progress.put(A1, ModelProgress.newBuilder().setModel("models/m").setStep(7).setPushes(14).setDuplicates(1).build());
    fleet.progress.put(A2, ModelProgress.newBuilder().setModel("models/m").setStep(6).setPushes(12).build());
    fleet.progressAsked.clear();

    Model m = r.get("models/m");
    assertThat(m.getStep()).isEqualTo(6);
    assertThat(m.getPushes()).isEqualTo(26);
    assertThat(m.getDuplicates()).isEqualTo(1);
    assertThat(fleet.progressAsked).containsExactly(A1, A2);
  }

  @Test
  void aWorkerThatDoesNotAnswerCountsWithItsLastHeartbeat() {
    twoWorkers();
    ModelRegistry r = registry();
    r.create("m", twoWorkerModel("sgd(0.1)"));
    fleet.progress.put(A1, ModelProgress.newBuilder().setModel("models/m").setStep(7).setPushes(7).build());
    workers.heartbeat(HeartbeatRequest.newBuilder().setWorker("workers/w2")
        .addModels(ModelProgress.newBuilder().setModel("models/m").setStep(4).setPushes(5)).build());

    Model m = r.get("models/m"); // A2 fails
    assertThat(m.getStep()).isEqualTo(4);
    assertThat(m.getPushes()).isEqualTo(12);
    assertThat(m.getState()).isEqualTo(ModelState.READY);

    // a worker that stopped beating is not asked
    now.addAndGet(500 * 6 + 1);
    workers.heartbeat(HeartbeatRequest.newBuilder().setWorker("workers/w1").build());
    fleet.progress.put(A2, ModelProgress.newBuilder().setModel("models/m").setStep(9).build());
    fleet.progressAsked.clear();
    assertThat(r.get("models/m").getStep()).isEqualTo(4);
    assertThat(fleet.progressAsked).containsExactly(A1);
  }

  @Test
  void aWorkerWithNeitherAnAnswerNorAHeartbeatCountsAsStepZero() {
    twoWorkers();
    ModelRegistry r = registry();
    r.create("m", twoWorkerModel("sgd(0.1)"));
    fleet.progress.put(A1, ModelProgress.newBuilder().setModel("models/m").setStep(7).build());
    assertThat(r.get("models/m").getStep()).isZero();
  }

  @Test
  void anAsyncModelsUpdatesAreTheLeastTheWorkersReport() {
    twoWorkers();
    ModelRegistry r = registry();
    r.create("m", twoWorkerModel("sgd(0.1)").toBuilder().setMode(TrainingMode.ASYNC).build());
    fleet.progress.put(A1, ModelProgress.newBuilder().setStep(9).setUpdatesApplied(8).setStepsSkipped(1).build());
    fleet.progress.put(A2, ModelProgress.newBuilder().setStep(8).setUpdatesApplied(6).setStepsSkipped(2).build());
    Model m = r.get("models/m");
    assertThat(m.getStep()).isEqualTo(8);
    assertThat(m.getUpdatesApplied()).isEqualTo(6);
    assertThat(m.getStepsSkipped()).isEqualTo(1);
  }

  // ---------------------------------------------------------------- steps and metrics

  @Test
  void decisionCombinesEveryWorkersStatistics() {
    twoWorkers();
    ModelRegistry r = registry();
    r.create("m", twoWorkerModel("sgd(0.1).clipNorm(1.0)"));
    // block sums 1.5 + 2.0 (tensor a) + 0.5 (tensor b) = 4.0: norm 2.0, clip 1 / (2 + 1e-6)
    UpdateDecision d = step(r, "models/m", 0, List.of(stat(0, 0, 1.5)), List.of(stat(0, 1, 2.0), stat(1, 0, 0.5)));
    float scale = (float) (1.0 / 2.000001);
    assertThat(d.action()).isEqualTo(UpdateDecision.Action.APPLY);
    assertThat(d.update()).isZero();
    assertThat(d.gradientNorm()).isEqualTo(2.0);
    assertThat(d.clipScale()).isEqualTo(scale);
    assertThat(d.learningRate()).isCloseTo(0.1, within(1e-15));
    assertThat(d.nonFinite()).isNull();

    ModelMetrics metrics = r.metrics("models/m", 0);
    assertThat(metrics.getModel()).isEqualTo("models/m");
    assertThat(metrics.getStepsSkipped()).isZero();
    assertThat(metrics.getStepsList()).singleElement().satisfies(s -> {
      assertThat(s.getStep()).isZero();
      assertThat(s.getUpdate()).isZero();
      assertThat(s.getSkipped()).isFalse();
      assertThat(s.getLearningRate()).isCloseTo(0.1, within(1e-15));
      assertThat(s.getGradientNorm()).isEqualTo(2.0);
      assertThat(s.getClippedNorm()).isCloseTo(1.0, within(1e-6));
    });
    assertThat(r.get("models/m").getUpdatesApplied()).isEqualTo(1);
  }

  @Test
  void smallGradientIsNotClipped() {
    twoWorkers();
    ModelRegistry r = registry();
    r.create("m", twoWorkerModel("sgd(0.1).clipNorm(1.0)"));
    // 0.0625 + 0.1875 = 0.25: norm 0.5 < 1, scale min(1, 1 / 0.500001) = 1
    UpdateDecision d = finiteStep(r, "models/m", 0);
    assertThat(d.gradientNorm()).isEqualTo(0.5);
    assertThat(d.clipScale()).isEqualTo(1f);
  }

  @Test
  void withoutClipNormTheScaleIsOne() {
    twoWorkers();
    ModelRegistry r = registry();
    r.create("m", twoWorkerModel("sgd(0.1)"));
    UpdateDecision d = step(r, "models/m", 0, List.of(stat(0, 0, 9.0)), List.of(stat(0, 1, 16.0)));
    assertThat(d.gradientNorm()).isEqualTo(5.0);
    assertThat(d.clipScale()).isEqualTo(1f);
  }

  @Test
  void learningRateFollowsTheScheduleOfAppliedUpdates() {
    twoWorkers();
    ModelRegistry r = registry();
    r.create("m", twoWorkerModel("sgd(0.1).warmup(4).clipNorm(1.0)"));
    // warmup(4): lr_t = 0.1 * t / 4 for t < 4, then 0.1
    double[] expected = {0.0, 0.025, 0.05, 0.075, 0.1, 0.1};
    for (int s = 0; s < expected.length; s++) {
      UpdateDecision d = finiteStep(r, "models/m", s);
      assertThat(d.update()).isEqualTo(s);
      assertThat(d.learningRate()).as("lr at t=%d", s).isCloseTo(expected[s], within(1e-15));
    }
    ModelMetrics m = r.metrics("models/m", 0);
    assertThat(m.getStepsList()).extracting(StepMetrics::getStep).containsExactly(0L, 1L, 2L, 3L, 4L, 5L);
    assertThat(m.getStepsList()).extracting(StepMetrics::getUpdate).containsExactly(0L, 1L, 2L, 3L, 4L, 5L);
    assertThat(r.get("models/m").getUpdatesApplied()).isEqualTo(6);
  }

  @Test
  void aScheduledPipelineChangeTakesEffectAtItsStep() {
    twoWorkers();
    ModelRegistry r = registry();
    r.create("m", twoWorkerModel("sgd(0.1)"));
    r.updatePipeline("models/m", Pipeline.parse("sgd(0.05).clipNorm(0.25)").toProto(), 2);
    assertThat(finiteStep(r, "models/m", 0).learningRate()).isCloseTo(0.1, within(1e-15));
    UpdateDecision s1 = finiteStep(r, "models/m", 1);
    assertThat(s1.learningRate()).isCloseTo(0.1, within(1e-15));
    assertThat(s1.clipScale()).isEqualTo(1f);
    DecidedStep s2 = finiteStep(r, "models/m", 2, 1);
    assertThat(s2.generation()).isEqualTo(1);
    assertThat(s2.decision().learningRate()).isCloseTo(0.05, within(1e-15));
    // norm 0.5 against clipNorm(0.25): 0.25 / 0.500001
    assertThat(s2.decision().clipScale()).isEqualTo((float) (0.25 / 0.500001));
    assertThat(r.metrics("models/m", 2).getStepsList()).singleElement().satisfies(m -> {
      assertThat(m.getGeneration()).isEqualTo(1);
      assertThat(m.getClippedNorm()).isCloseTo(0.25, within(1e-6));
    });
  }

  @Test
  void nonFiniteStatisticSkipsTheStepWithSkipNonFinite() {
    twoWorkers();
    ModelRegistry r = registry();
    r.create("m", twoWorkerModel("sgd(0.1).warmup(2).skipNonFinite()"));
    // step 0: w2's shard of "a" has a NaN at element 8200 of the tensor
    UpdateDecision skipped = step(r, "models/m", 0, List.of(stat(0, 0, 1.0)),
        List.of(new BlockStatistics(0, 1, new double[] {Double.NaN}, 8200), stat(1, 0, 1.0)));
    assertThat(skipped.action()).isEqualTo(UpdateDecision.Action.SKIP);
    assertThat(skipped.applies()).isFalse();
    assertThat(skipped.update()).isZero();
    assertThat(skipped.nonFinite()).contains("'a'").contains("8200");

    // skipped steps do not advance t: step 1 is update 0 (lr 0 in warmup), step 2 update 1 (lr 0.05)
    UpdateDecision s1 = finiteStep(r, "models/m", 1);
    assertThat(s1.action()).isEqualTo(UpdateDecision.Action.APPLY);
    assertThat(s1.update()).isZero();
    assertThat(s1.learningRate()).isEqualTo(0.0);
    UpdateDecision s2 = finiteStep(r, "models/m", 2);
    assertThat(s2.update()).isEqualTo(1);
    assertThat(s2.learningRate()).isCloseTo(0.05, within(1e-15));

    ModelMetrics m = r.metrics("models/m", 0);
    assertThat(m.getStepsSkipped()).isEqualTo(1);
    assertThat(m.getStepsList()).extracting(StepMetrics::getSkipped).containsExactly(true, false, false);
    Model model = r.get("models/m");
    assertThat(model.getStepsSkipped()).isEqualTo(1);
    assertThat(model.getUpdatesApplied()).isEqualTo(2);
  }

  @Test
  void metricsFromAStepOn() {
    twoWorkers();
    ModelRegistry r = registry();
    r.create("m", twoWorkerModel("sgd(0.1)"));
    for (int s = 0; s < 4; s++) {
      finiteStep(r, "models/m", s);
    }
    assertThat(r.metrics("models/m", 0).getStepsList()).extracting(StepMetrics::getStep)
        .containsExactly(0L, 1L, 2L, 3L);
    assertThat(r.metrics("models/m", 10).getStepsList()).isEmpty();
  }

  @Test
  void metricsFromAStepIncludeThatStep() {
    twoWorkers();
    ModelRegistry r = registry();
    r.create("m", twoWorkerModel("sgd(0.1)"));
    for (int s = 0; s < 4; s++) {
      finiteStep(r, "models/m", s);
    }
    assertThat(r.metrics("models/m", 2).getStepsList()).extracting(StepMetrics::getStep).containsExactly(2L, 3L);
  }

  @Test
  void barrierWaitMillisIsTheTimeFromTheFirstReportToTheLast() {
    twoWorkers();
    ModelRegistry r = registry();
    r.create("m", twoWorkerModel("sgd(0.1)"));
    RecordingReply r1 = new RecordingReply();
    RecordingReply r2 = new RecordingReply();
    r.reportStep("models/m", "workers/w1", 0, 0, List.of(stat(0, 0, 1)), r1);
    nanos.addAndGet(300_500_000);
    r.reportStep("models/m", "workers/w2", 0, 0, List.of(stat(0, 1, 1)), r2);
    r1.decision();
    finiteStep(r, "models/m", 1); // no time passes
    assertThat(r.metrics("models/m", 0).getStepsList()).extracting(StepMetrics::getBarrierWaitMillis)
        .containsExactly(300.5, 0.0);
  }

  @Test
  void reportFromAWorkerWithoutShardsFails() {
    twoWorkers();
    ModelRegistry r = registry();
    r.create("m", twoWorkerModel("sgd(0.1)"));
    workers.register("host9:7009"); // workers/w3, registered after placement
    RecordingReply reply = new RecordingReply();
    r.reportStep("models/m", "workers/w3", 0, 0, List.of(), reply);
    assertThat(reply.failure().code()).isEqualTo(Status.Code.FAILED_PRECONDITION);
  }

  @Test
  void asyncModelsHaveNoBarrier() {
    twoWorkers();
    ModelRegistry r = registry();
    r.create("m", twoWorkerModel("sgd(0.1)").toBuilder().setMode(TrainingMode.ASYNC).build());
    assertApiError(() -> r.reportStep("models/m", "workers/w1", 0, 0, List.of(), new RecordingReply()),
        Status.Code.FAILED_PRECONDITION).hasMessageContaining("ASYNC");
  }

  @Test
  void aStepThatTimesOutFailsTheModelAndNamesTheMissingWorker() {
    twoWorkers();
    ModelRegistry r = registry(100);
    r.create("m", twoWorkerModel("sgd(0.1)"));
    RecordingReply reply = new RecordingReply();
    r.reportStep("models/m", "workers/w1", 0, 0, List.of(stat(0, 0, 1)), reply);
    ApiException e = reply.failure();
    assertThat(e.code()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(e.getMessage()).contains("workers/w2").contains("step 0").contains("alive");
    assertThat(workers.healthy("workers/w2")).as("w2 still beats, so it is not blamed").isTrue();
    Model m = r.get("models/m");
    assertThat(m.getState()).isEqualTo(ModelState.FAILED);
    assertThat(m.getFailure()).contains("workers/w2");
  }

  @Test
  void aTimedOutWorkerThatStoppedBeatingIsMarkedUnhealthy() {
    twoWorkers();
    ModelRegistry r = registry(100);
    r.create("m", twoWorkerModel("sgd(0.1)"));
    now.addAndGet(500 * 6 + 1); // w2 (and w1) have been silent for too long
    RecordingReply reply = new RecordingReply();
    r.reportStep("models/m", "workers/w1", 0, 0, List.of(stat(0, 0, 1)), reply);
    ApiException e = reply.failure();
    assertThat(e.getMessage()).contains("workers/w2").contains("marked unhealthy");
    workers.heartbeat(HeartbeatRequest.newBuilder().setWorker("workers/w1").build());
    assertThat(workers.healthy("workers/w1")).isTrue();
    assertThat(workers.healthy("workers/w2")).isFalse();
  }
}
