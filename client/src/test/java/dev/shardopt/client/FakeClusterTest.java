package dev.shardopt.client;

import dev.shardopt.v1.ModelState;
import static dev.shardopt.client.Initializers.normal;
import static dev.shardopt.dsl.Optimizers.adam;
import static dev.shardopt.dsl.Optimizers.sgd;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.tuple;

import dev.shardopt.dsl.Pipeline;
import dev.shardopt.rpc.TensorBytes;
import dev.shardopt.v1.PushHeader;
import dev.shardopt.v1.Shard;
import dev.shardopt.v1.ShardMap;
import dev.shardopt.v1.TensorChunk;
import dev.shardopt.v1.TrainingMode;
import io.grpc.Server;
import io.grpc.Status;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import org.assertj.core.groups.Tuple;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The client against a fake coordinator and two fake workers on loopback. */
class FakeClusterTest {
  private FakeCluster fake;
  private ShardoptCluster cluster;
  private final AtomicBoolean ownedClosed = new AtomicBoolean();

  @BeforeEach
  void start() throws Exception {
    fake = new FakeCluster();
    cluster = new ShardoptCluster(fake.coordinatorAddress(),
        ClientOptions.defaults().chunkBytes(4000).retryBackoff(Duration.ofMillis(10))
            .rpcDeadline(Duration.ofSeconds(20)).readyTimeout(Duration.ofSeconds(10)),
        () -> ownedClosed.set(true));
  }

  @AfterEach
  void stop() throws Exception {
    cluster.close();
    fake.close();
  }

  private RemoteModel model() {
    return cluster.createModel("m", sgd(0.1),
        Tensors.of("w", 96, 128).init(normal(0.05, 42)), Tensors.of("b", 100), Tensors.of("c", 7));
  }

  /** Decodes chunks into per-tensor arrays of the fixture's sizes; NaN where nothing arrived. */
  private static Map<String, float[]> collect(List<TensorChunk> chunks) {
    Map<String, float[]> out = new java.util.LinkedHashMap<>();
    for (TensorInfo t : Fixtures.tensors()) {
      float[] v = new float[t.elements()];
      java.util.Arrays.fill(v, Float.NaN);
      out.put(t.name(), v);
    }
    for (TensorChunk c : chunks) {
      TensorBytes.decode(c.getData(), out.get(c.getTensor()), (int) c.getOffset());
    }
    return out;
  }

  @Test
  void createModelUploadsExplicitValuesToTheWorkersHoldingThemAndWaitsForReady() {
    float[] bias = new float[100];
    for (int i = 0; i < bias.length; i++) {
      bias[i] = i * 0.5f;
    }
    RemoteModel m = cluster.createModel(ModelOptions.named("m").pipeline(adam(1e-3)).trainers(2)
        .tensors(Tensors.of("w", 96, 128), Tensors.of("b", bias, 100), Tensors.of("c", 7)));

    assertThat(m.name()).isEqualTo("models/m");
    assertThat(m.id()).isEqualTo("m");
    assertThat(m.trainers()).isEqualTo(2);
    assertThat(m.describe().getState()).isEqualTo(ModelState.READY);
    assertThat(fake.a.writes).isEmpty(); // A holds no shard of b
    assertThat(fake.b.writes).hasSize(1);
    List<TensorChunk> chunks = fake.b.writes.get(0);
    assertThat(chunks.get(0).getModel()).isEqualTo("models/m");
    assertThat(chunks).extracting(TensorChunk::getTensor).containsOnly("b");
    assertThat(collect(chunks).get("b")).containsExactly(bias);
    assertThat(fake.coordinator.models.get("models/m").getTensors(1).getInit().hasUpload()).isTrue();
  }

  @Test
  void pushSendsEachWorkerExactlyItsShards() {
    Trainer trainer = model().trainer(0, 1);
    Map<String, float[]> g = Fixtures.values(0.5f);
    PushResult r = trainer.push(0, g);

    assertThat(r).isEqualTo(new PushResult(0, false));
    assertThat(trainer.nextStep()).isEqualTo(1);
    assertThat(fake.a.pushes).hasSize(1);
    assertThat(fake.b.pushes).hasSize(1);
    PushHeader h = fake.a.pushes.get(0).header();
    assertThat(h.getModel()).isEqualTo("models/m");
    assertThat(h.getTrainer()).isZero();
    assertThat(h.getStep()).isZero();
    assertThat(h.getGradientNormSquared()).isZero(); // SYNC: no trainer statistics
    assertThat(h.hasPipelineGeneration()).isFalse();

    List<TensorChunk> a = fake.a.pushes.get(0).chunks();
    assertThat(a).allSatisfy(c -> {
      assertThat(c.getTensor()).isEqualTo("w");
      assertThat(c.getOffset() + c.getData().size() / 4).isLessThanOrEqualTo(8192);
      assertThat(c.getData().size()).isLessThanOrEqualTo(4000);
    });
    assertThat(a.stream().mapToInt(c -> c.getData().size() / 4).sum()).isEqualTo(8192);
    Map<String, float[]> atB = collect(fake.b.pushes.get(0).chunks());
    assertThat(atB.get("b")).containsExactly(g.get("b"));
    assertThat(atB.get("c")).containsExactly(g.get("c"));
    assertThat(java.util.Arrays.copyOfRange(atB.get("w"), 8192, 12288))
        .containsExactly(java.util.Arrays.copyOfRange(g.get("w"), 8192, 12288));
    assertThat(java.util.Arrays.copyOfRange(atB.get("w"), 0, 8192)).containsOnly(Float.NaN);
  }

  @Test
  void pullAssemblesBothWorkersShards() {
    Map<String, float[]> params = Fixtures.values(0.75f);
    fake.a.params.putAll(params);
    fake.b.params.putAll(params);
    Trainer trainer = model().trainer(0, 1);

    Map<String, float[]> pulled = trainer.pull();
    assertThat(pulled.keySet()).containsExactly("w", "b", "c");
    for (String t : params.keySet()) {
      assertThat(pulled.get(t)).containsExactly(params.get(t));
    }
    assertThat(fake.a.pulls.get(0).getMinStep()).isZero();
    assertThat(fake.a.pulls.get(0).getModel()).isEqualTo("models/m");
    // decoded straight from gRPC's receive buffers, every one released once decoded
    assertThat(cluster.workerCalls().aliasedParses()).isPositive();
    assertThat(cluster.workerCalls().wireBuffersHeld()).isZero();

    trainer.push(0, Fixtures.values(0));
    trainer.pull();
    assertThat(fake.b.pulls.get(1).getMinStep()).isEqualTo(1); // the next step
  }

  @Test
  void aPullThatFindsWorkersAtDifferentStepsPullsAgainAtTheHigherStep() {
    Map<String, float[]> params = Fixtures.values(0);
    fake.a.params.putAll(params);
    fake.b.params.putAll(params);
    fake.a.step = 3;
    fake.b.step = 4;
    PulledParameters p = model().pullParameters(0);
    assertThat(p.step()).isEqualTo(4);
    assertThat(fake.a.pulls).extracting(r -> r.getMinStep()).containsExactly(0L, 4L);
    assertThat(cluster.workerCalls().wireBuffersHeld()).isZero(); // the first, discarded pull's too
  }

  @Test
  void aPushAnsweredUnavailableIsSentAgainToThatWorkerOnly() {
    Trainer trainer = model().trainer(0, 1);
    fake.a.failPushes.set(1); // A records the push, but its answer is lost
    PushResult r = trainer.push(0, Fixtures.values(0));
    assertThat(fake.a.pushes).hasSize(2);
    assertThat(fake.b.pushes).hasSize(1);
    assertThat(r.duplicate()).isFalse(); // B applied it just now

    PushResult replay = trainer.push(0, Fixtures.values(0));
    assertThat(replay).isEqualTo(new PushResult(0, true));
  }

  @Test
  void aPushStillUnavailableAfterEveryAttemptFails() {
    Trainer trainer = model().trainer(0, 1);
    fake.b.failPushes.set(10);
    assertThatThrownBy(() -> trainer.push(0, Fixtures.values(0)))
        .isInstanceOf(ShardoptException.class)
        .satisfies(e -> {
          ShardoptException se = (ShardoptException) e;
          assertThat(se.code()).isEqualTo(Status.Code.UNAVAILABLE);
          assertThat(se.address()).isEqualTo(fake.addressB());
        });
    assertThat(fake.b.pushes).hasSize(3);
    assertThat(trainer.nextStep()).isZero();
  }

  @Test
  void otherErrorsAreNotRetriedAndNameTheWorker() {
    Trainer trainer = model().trainer(0, 1);
    fake.b.failPushes.set(1);
    fake.b.failWith.set(Status.INVALID_ARGUMENT.withDescription("the gradient of 'w' is not finite at index 9000"));
    assertThatThrownBy(() -> trainer.push(0, Fixtures.values(0)))
        .isInstanceOf(ShardoptException.class)
        .hasMessage("push of step 0 (trainer 0, models/m) to worker " + fake.addressB()
            + " failed: INVALID_ARGUMENT: the gradient of 'w' is not finite at index 9000")
        .satisfies(e -> {
          ShardoptException se = (ShardoptException) e;
          assertThat(se.code()).isEqualTo(Status.Code.INVALID_ARGUMENT);
          assertThat(se.serverMessage()).isEqualTo("the gradient of 'w' is not finite at index 9000");
        });
    assertThat(fake.b.pushes).hasSize(1);
  }

  @Test
  void anUnreachableWorkerFailsWithUnavailableAfterTheRetries() throws Exception {
    Server gone = FakeCluster.serve(new FakeCluster.FakeWorker());
    String address = FakeCluster.address(gone);
    gone.shutdownNow().awaitTermination();
    fake.a.params.putAll(Fixtures.values(0));
    // Point B's shards at the dead address.
    fake.map = ShardMap.newBuilder(fake.map).clearShards()
        .addAllShards(fake.map.getShardsList().stream()
            .map(s -> s.getAddress().equals(fake.addressB()) ? s.toBuilder().setAddress(address).build() : s)
            .toList())
        .build();
    RemoteModel m = model();

    assertThatThrownBy(() -> m.trainer(0, 1).push(0, Fixtures.values(0)))
        .isInstanceOf(ShardoptException.class)
        .hasMessageContaining("to worker " + address + " failed: UNAVAILABLE")
        .satisfies(e -> assertThat(((ShardoptException) e).address()).isEqualTo(address));
    assertThatThrownBy(() -> m.pull())
        .hasMessageContaining("from worker " + address + " failed: UNAVAILABLE");
  }

  @Test
  void asyncPushesCarryTheTrainersGradientStatistics() {
    RemoteModel m = cluster.createModel(ModelOptions.named("m").pipeline(sgd(0.1).clipValue(0.5).freeze("c"))
        .trainers(2).async(3).tensors(Tensors.of("w", 96, 128), Tensors.of("b", 100), Tensors.of("c", 7)));
    assertThat(m.mode()).isEqualTo(TrainingMode.ASYNC);
    assertThat(m.staleness()).isEqualTo(3);
    Map<String, float[]> g = Fixtures.values(0);
    g.get("b")[3] = Float.NaN;
    m.trainer(1, 2).push(7, g);
    PushHeader h = fake.a.pushes.get(0).header();
    assertThat(h.getTrainer()).isEqualTo(1);
    assertThat(h.getStep()).isEqualTo(7);
    assertThat(h.getNonFinite()).isTrue();

    g.get("b")[3] = 1;
    m.trainer(0, 2).push(0, g);
    // Every element but c's (frozen) is clamped to 0.5, except w[0] = 0.
    assertThat(fake.b.pushes.get(1).header().getGradientNormSquared())
        .isEqualTo((12288 - 1 + 100) * 0.25);
    assertThat(fake.b.pushes.get(1).header().getNonFinite()).isFalse();

    // From step 10 on, the clip changes: the trainer uses the pipeline in force at its step.
    m.updatePipeline(sgd(0.1).clipValue(0.25).freeze("c"), 10);
    assertThat(fake.coordinator.updates.get(0).getAtStep()).isEqualTo(10);
    m.trainer(0, 2).push(9, g);
    m.trainer(0, 2).push(10, g);
    assertThat(fake.a.pushes.get(2).header().getGradientNormSquared()).isEqualTo((12288 - 1 + 100) * 0.25);
    assertThat(fake.a.pushes.get(3).header().getGradientNormSquared()).isEqualTo((12288 - 1 + 100) * 0.0625);
    assertThat(fake.a.pushes).extracting(p -> p.header().getPipelineGeneration())
        .containsExactly(0L, 0L, 0L, 1L);
  }

  // ------------------------------------------------------------------ pipeline generations (ASYNC)

  /** clipValue 0.5 on Fixtures.values(0): every element of w and b but w[0] = 0 clamps to 0.5. */
  private static final double W_AND_B_AT_HALF = (12288 - 1 + 100) * 0.25;

  private RemoteModel asyncModel(Pipeline pipeline) {
    return cluster.createModel(ModelOptions.named("m").pipeline(pipeline).async(0)
        .tensors(Tensors.of("w", 96, 128), Tensors.of("b", 100), Tensors.of("c", 7)));
  }

  /** A change made through another client of the cluster, which this one does not see. */
  private void updateElsewhere(Pipeline pipeline, long atStep) {
    try (ShardoptCluster other = new ShardoptCluster(fake.coordinatorAddress(), null)) {
      other.model("m").updatePipeline(pipeline, atStep);
    }
  }

  private static Tuple pushed(FakeCluster.Push p) {
    return tuple(p.header().getStep(), p.header().getPipelineGeneration(),
        p.header().getGradientNormSquared());
  }

  @Test
  void aPushRefusedForAnotherGenerationIsSentAgainUnderTheScheduleReadAgain() {
    RemoteModel m = asyncModel(sgd(0.1).clipValue(0.5).freeze("c"));
    updateElsewhere(sgd(0.1).clipValue(0.25), 3); // from step 3: a tighter clip, and c unfrozen
    Trainer trainer = m.trainer(0, 1);
    Map<String, float[]> g = Fixtures.values(0);

    trainer.push(2, g);
    PushResult r = trainer.push(3, g);

    assertThat(r).isEqualTo(new PushResult(3, false));
    for (FakeCluster.FakeWorker w : List.of(fake.a, fake.b)) {
      assertThat(w.pushes).extracting(FakeClusterTest::pushed).containsExactly(
          tuple(2L, 0L, W_AND_B_AT_HALF),
          tuple(3L, 0L, W_AND_B_AT_HALF), // refused: generation 1 is in force at step 3
          tuple(3L, 1L, (12288 - 1 + 100 + 7) * 0.0625)); // c counts under generation 1
    }
    assertThat(m.pipelineAt(2).clipValueLimit()).hasValue(0.5);
    assertThat(m.pipelineAt(3).clipValueLimit()).hasValue(0.25);
    assertThat(trainer.nextStep()).isEqualTo(4);
  }

  @Test
  void aSecondRefusalNamesTheStepAndBothGenerations() {
    RemoteModel m = asyncModel(sgd(0.1).clipValue(0.5).freeze("c"));
    updateElsewhere(sgd(0.1).clipValue(0.25).freeze("c"), 5);
    fake.a.generationAt = (model, step) -> 2; // A is out of step with the coordinator

    assertThatThrownBy(() -> m.trainer(0, 1).push(7, Fixtures.values(0)))
        .isInstanceOf(ShardoptException.class)
        .hasMessage("push of step 7 (trainer 0, models/m) was refused under pipeline generation 0, "
            + "then under generation 1, the one in force at step 7 in the coordinator's schedule "
            + "(generation 0 from step 0, generation 1 from step 5); worker " + fake.addressA()
            + " says: step 7 of models/m is under pipeline generation 2, not 1")
        .satisfies(e -> {
          ShardoptException se = (ShardoptException) e;
          assertThat(se.code()).isEqualTo(Status.Code.FAILED_PRECONDITION);
          assertThat(se.address()).isEqualTo(fake.addressA());
          assertThat(se.getSuppressed()).singleElement().extracting(Throwable::getMessage)
              .isEqualTo("push of step 7 (trainer 0, models/m) to worker " + fake.addressA()
                  + " failed: FAILED_PRECONDITION: step 7 of models/m is under pipeline generation 2, not 0");
        });
    assertThat(fake.a.pushes).extracting(p -> p.header().getPipelineGeneration()).containsExactly(0L, 1L);
  }

  @Test
  void aRefusalThatIsNotAboutTheGenerationIsNotSentAgain() {
    RemoteModel m = asyncModel(sgd(0.1).clipValue(0.5));
    fake.b.failPushes.set(1);
    fake.b.failWith.set(Status.FAILED_PRECONDITION.withDescription("trainer 0 pushed step 4 before step 3"));

    assertThatThrownBy(() -> m.trainer(0, 1).push(4, Fixtures.values(0)))
        .isInstanceOf(ShardoptException.class)
        .hasMessage("push of step 4 (trainer 0, models/m) to worker " + fake.addressB()
            + " failed: FAILED_PRECONDITION: trainer 0 pushed step 4 before step 3");
    assertThat(fake.a.pushes).hasSize(1);
    assertThat(fake.b.pushes).hasSize(1);
  }

  @Test
  void updatePipelineTakesTheScheduleTheCoordinatorAnswersWith() {
    RemoteModel m = asyncModel(sgd(0.1).clipValue(0.5));
    updateElsewhere(sgd(0.1).clipValue(0.25), 3);

    m.updatePipeline(sgd(0.1).clipValue(0.125), 6);

    assertThat(m.pipelineAt(2).clipValueLimit()).hasValue(0.5);
    assertThat(m.pipelineAt(5).clipValueLimit()).hasValue(0.25); // the other client's change
    assertThat(m.pipelineAt(6).clipValueLimit()).hasValue(0.125);
    assertThat(m.pipeline().clipValueLimit()).hasValue(0.125);
    m.trainer(0, 1).push(5, Fixtures.values(0));
    assertThat(fake.a.pushes).extracting(p -> p.header().getPipelineGeneration()).containsExactly(1L);
  }

  @Test
  void gradientsAreCheckedBeforeAnythingIsSent() {
    Trainer trainer = model().trainer(0, 1);
    Map<String, float[]> g = Fixtures.values(0);
    g.put("w", new float[12]);
    assertThatThrownBy(() -> trainer.push(0, g))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("the gradient of tensor 'w' (shape [96, 128], 12288 elements) of model 'm' has 12 "
            + "elements, expected 12288");
    assertThat(fake.a.pushes).isEmpty();
  }

  @Test
  void trainerCountMustBeTheModels() {
    RemoteModel m = model();
    assertThatThrownBy(() -> m.trainer(0, 2))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("model models/m was created for 1 trainer, but trainer(0, 2) says 2");
    assertThatThrownBy(() -> m.trainer(1, 1))
        .hasMessage("trainer rank must be in [0, 1) for model models/m, got 1");
  }

  @Test
  void modelCallsReachTheCoordinator() {
    RemoteModel m = model();
    fake.a.step = 5;
    fake.b.step = 5;
    assertThat(m.step()).isEqualTo(5);
    assertThat(m.shardMap().getShardsList()).extracting(Shard::getAddress)
        .containsExactly(fake.addressA(), fake.addressB(), fake.addressB(), fake.addressB());
    assertThat(m.metrics(2)).extracting(StepMetric::step).containsExactly(2L, 3L);
    assertThat(m.metrics().get(1).gradientNorm()).isEqualTo(2.0);
    assertThat(cluster.model("m").tensorNames()).containsExactly("w", "b", "c");
    assertThatThrownBy(() -> cluster.createModel("m", sgd(), Tensors.of("w", 1)))
        .isInstanceOf(ShardoptException.class)
        .hasMessageContaining("ALREADY_EXISTS: model models/m exists")
        .satisfies(e -> assertThat(((ShardoptException) e).code()).isEqualTo(Status.Code.ALREADY_EXISTS));
    m.delete();
    assertThatThrownBy(() -> cluster.model("m"))
        .hasMessageContaining("NOT_FOUND");
  }

  @Test
  void checkpointSendsTheAbsoluteDirectoryAndReturnsWhatTheCoordinatorReports() {
    RemoteModel m = model();
    fake.a.step = 6;
    fake.b.step = 6;

    CheckpointInfo c = m.checkpoint(Path.of("ckpt", "..", "runs"));

    String dir = Path.of("runs").toAbsolutePath().toString();
    assertThat(fake.coordinator.checkpointRequests).singleElement().satisfies(r -> {
      assertThat(r.getName()).isEqualTo("models/m");
      assertThat(r.getDirectory()).isEqualTo(dir);
      assertThat(r.hasAtStep()).isFalse();
    });
    // w 96x128, b 100, c 7: 12395 floats
    assertThat(c).isEqualTo(new CheckpointInfo(6, dir + "/step-0000000006", 49_580, 1.25, 40.5, List.of()));
  }

  @Test
  void aCheckpointIsSentAgainWhileTheCoordinatorDoesNotAnswer() {
    RemoteModel m = model();
    fake.coordinator.checkpointsUnanswered.set(2);
    CheckpointInfo c = m.checkpoint(Path.of("/data/ckpt"), 8);
    assertThat(fake.coordinator.checkpointRequests).hasSize(3)
        .allSatisfy(r -> assertThat(r.getAtStep()).isEqualTo(8));
    assertThat(c.path()).isEqualTo("/data/ckpt/step-0000000008");
  }

  @Test
  void checkpointAtAStepSendsTheStep() {
    RemoteModel m = model();
    CheckpointInfo c = m.checkpoint(Path.of("/data/ckpt"), 8);
    assertThat(fake.coordinator.checkpointRequests).singleElement()
        .satisfies(r -> assertThat(r.getAtStep()).isEqualTo(8));
    assertThat(c.step()).isEqualTo(8);
    assertThat(c.path()).isEqualTo("/data/ckpt/step-0000000008");
    assertThatThrownBy(() -> m.checkpoint(Path.of("/data/ckpt"), -1))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("atStep must be >= 0, got -1");
    assertThat(fake.coordinator.checkpointRequests).hasSize(1);
  }

  @Test
  void aRefusedCheckpointIsAShardoptExceptionNamingTheCallAndTheServersReason() {
    RemoteModel m = asyncModel(sgd(0.1));
    assertThatThrownBy(() -> m.checkpoint(Path.of("/data/ckpt"), 4))
        .isInstanceOf(ShardoptException.class)
        .hasMessage("CheckpointModel of models/m into /data/ckpt at step 4 at coordinator "
            + fake.coordinatorAddress() + " failed: INVALID_ARGUMENT: at_step is for SYNC models: models/m"
            + " is ASYNC")
        .satisfies(e -> assertThat(((ShardoptException) e).code())
            .isEqualTo(Status.Code.INVALID_ARGUMENT));
    assertThat(fake.coordinator.checkpointRequests).hasSize(1); // refused, so not sent again
  }

  @Test
  void aCheckpointHasItsOwnDeadline() throws Exception {
    assertThat(ClientOptions.defaults().checkpointDeadline()).isEqualTo(Duration.ofMinutes(10));
    assertThatThrownBy(() -> ClientOptions.defaults().checkpointDeadline(Duration.ZERO))
        .hasMessage("checkpointDeadline must be positive, got PT0S");
    RemoteModel m = model();
    fake.coordinator.checkpointGate = new CountDownLatch(1); // the coordinator never answers
    try (ShardoptCluster impatient = new ShardoptCluster(fake.coordinatorAddress(),
        ClientOptions.defaults().checkpointDeadline(Duration.ofMillis(300)), null)) {
      RemoteModel same = impatient.model("m");
      assertThatThrownBy(() -> same.checkpoint(Path.of("/data/ckpt"), 4))
          .isInstanceOf(ShardoptException.class)
          .satisfies(e -> assertThat(((ShardoptException) e).code())
              .isEqualTo(Status.Code.DEADLINE_EXCEEDED));
      assertThat(same.step()).isZero(); // other calls keep the ordinary deadline
    } finally {
      fake.coordinator.checkpointGate.countDown();
    }
    assertThat(m.checkpoint(Path.of("/data/ckpt"), 4).step()).isEqualTo(4);
  }

  @Test
  void restoreModelSendsOnlyTheAbsolutePathAndItsTrainersStartAtTheCheckpointsStep() {
    RemoteModel m = cluster.createModel(ModelOptions.named("m").pipeline(adam(0.02)).trainers(2)
        .tensors(Tensors.of("w", 96, 128), Tensors.of("b", 100), Tensors.of("c", 7)));
    fake.a.step = 12;
    fake.b.step = 12;
    CheckpointInfo c = m.checkpoint(Path.of("ckpt"));
    m.delete();
    fake.a.step = 0;
    fake.b.step = 0;

    RemoteModel r = cluster.restoreModel("r", Path.of("ckpt")); // the parent: its latest checkpoint

    assertThat(fake.coordinator.restoreRequests).singleElement().satisfies(q -> {
      assertThat(q.getModelId()).isEqualTo("r");
      assertThat(q.getRestoreFrom()).isEqualTo(Path.of("ckpt").toAbsolutePath().toString());
      assertThat(q.hasModel()).isFalse();
    });
    assertThat(c.step()).isEqualTo(12);
    assertThat(r.name()).isEqualTo("models/r");
    assertThat(r.trainers()).isEqualTo(2);
    assertThat(r.tensorNames()).containsExactly("w", "b", "c");
    assertThat(r.pipeline().toString()).isEqualTo("adam(0.02)");
    assertThat(r.startStep()).isEqualTo(12);
    assertThat(r.trainer(1, 2).nextStep()).isEqualTo(12);
    assertThat(m.trainer(1, 2).nextStep()).isZero();
    assertThat(cluster.model("r").startStep()).isZero(); // attached, not restored
  }

  @Test
  void aRefusedRestoreCreatesNothing() {
    assertThatThrownBy(() -> cluster.restoreModel("r", Path.of("/nowhere/step-0000000004")))
        .isInstanceOf(ShardoptException.class)
        .hasMessage("CreateModel of 'r' from checkpoint /nowhere/step-0000000004 at coordinator "
            + fake.coordinatorAddress() + " failed: FAILED_PRECONDITION: "
            + "/nowhere/step-0000000004/manifest.json: no such file");
    assertThat(fake.coordinator.models).isEmpty();
    assertThat(fake.coordinator.deletes).hasValue(0);
    assertThatThrownBy(() -> cluster.restoreModel("Bad Id", Path.of("/x")))
        .isInstanceOf(IllegalArgumentException.class);
    assertThat(fake.coordinator.restoreRequests).hasSize(1);
  }

  @Test
  void aRestoredModelThatFailsIsDeletedAgain() {
    model().checkpoint(Path.of("/data/ckpt"), 4);
    fake.coordinator.restoreFailure = "worker 127.0.0.1:1 could not read w.npy";
    assertThatThrownBy(() -> cluster.restoreModel("r", Path.of("/data/ckpt/step-0000000004")))
        .isInstanceOf(ShardoptException.class)
        .hasMessage("model models/r failed while loading: worker 127.0.0.1:1 could not read w.npy");
    assertThat(fake.coordinator.deletes).hasValue(1);
    assertThat(fake.coordinator.models).containsOnlyKeys("models/m");
  }

  @Test
  void closeClosesTheOwnedResourcesAndRefusesLaterCalls() {
    RemoteModel m = model();
    cluster.close();
    assertThat(ownedClosed).isTrue();
    assertThatThrownBy(m::step).isInstanceOf(IllegalStateException.class);
    cluster.close(); // idempotent
  }
}
