package dev.shardopt.coordinator;

import static dev.shardopt.coordinator.ModelRegistryTest.generation;
import static dev.shardopt.coordinator.ModelRegistryTest.twoWorkerModel;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.inject.Guice;
import com.google.inject.Injector;
import com.google.inject.util.Modules;
import dev.shardopt.coordinator.ScheduleLockHooks.Phase;
import dev.shardopt.coordinator.ScheduleLockHooks.Section;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.v1.Checkpoint;
import dev.shardopt.v1.CheckpointModelRequest;
import dev.shardopt.v1.CreateModelRequest;
import dev.shardopt.v1.GetPipelineScheduleRequest;
import dev.shardopt.v1.Model;
import dev.shardopt.v1.PipelineSchedule;
import dev.shardopt.v1.ReportStepRequest;
import dev.shardopt.v1.ShardStatistics;
import dev.shardopt.v1.StepDecision;
import dev.shardopt.v1.UpdatePipelineRequest;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The service as the process wires it (CoordinatorModule), with a fake fleet and recording hooks. */
class CoordinatorServiceTest {
  /** A StreamObserver for one unary answer. */
  static final class Answer<T> implements StreamObserver<T> {
    final CompletableFuture<T> result = new CompletableFuture<>();

    @Override
    public void onNext(T value) {
      result.complete(value);
    }

    @Override
    public void onError(Throwable t) {
      result.completeExceptionally(t);
    }

    @Override
    public void onCompleted() {}

    T value() throws Exception {
      return result.get(5, TimeUnit.SECONDS);
    }

    Status error() throws Exception {
      try {
        throw new AssertionError("expected an error, got " + result.get(5, TimeUnit.SECONDS));
      } catch (ExecutionException e) {
        return Status.fromThrowable(e.getCause());
      }
    }
  }

  record Hook(Section section, Phase phase, String model, long step) {}

  private final List<Hook> hooks = new CopyOnWriteArrayList<>();
  private Injector injector;
  private CoordinatorService service;

  @BeforeEach
  void start() {
    injector = Guice.createInjector(Modules.override(new CoordinatorModule(CoordinatorConfig.defaults())).with(b -> {
      b.bind(WorkerFleet.class).toInstance(new ModelRegistryTest.FakeFleet());
      b.bind(ScheduleLockHooks.class).toInstance((section, phase, model, step) ->
          hooks.add(new Hook(section, phase, model, step)));
    }));
    WorkerRegistry workers = injector.getInstance(WorkerRegistry.class);
    workers.register("host1:7001");
    workers.register("host2:7002");
    service = injector.getInstance(CoordinatorService.class);
  }

  @AfterEach
  void stop() {
    injector.getInstance(ScheduledExecutorService.class).shutdownNow();
  }

  private void create() throws Exception {
    Answer<Model> created = new Answer<>();
    service.createModel(CreateModelRequest.newBuilder().setModelId("m").setModel(twoWorkerModel("sgd(0.1)")).build(),
        created);
    assertThat(created.value().getName()).isEqualTo("models/m");
  }

  private Answer<StepDecision> report(String worker, long step, long generation, int firstBlock) {
    Answer<StepDecision> answer = new Answer<>();
    service.reportStep(ReportStepRequest.newBuilder().setModel("models/m").setWorker(worker).setStep(step)
        .setGeneration(generation)
        .addShards(ShardStatistics.newBuilder().setTensorIndex(0).setFirstBlock(firstBlock).addBlockSums(2.0)
            .setFirstNonFinite(-1)).build(),
        answer);
    return answer;
  }

  @Test
  void getPipelineScheduleFixesTheScheduleThroughTheStepAndReachesTheBoundHooks() throws Exception {
    create();
    hooks.clear();
    Answer<PipelineSchedule> schedule = new Answer<>();
    service.getPipelineSchedule(GetPipelineScheduleRequest.newBuilder().setName("models/m").setThroughStep(3).build(),
        schedule);
    assertThat(schedule.value()).isEqualTo(PipelineSchedule.newBuilder()
        .addGenerations(generation(0, 0, "sgd(0.1)")).setFixedThrough(3).build());
    assertThat(hooks).containsExactly(new Hook(Section.FIX, Phase.LOCKING, "models/m", 3),
        new Hook(Section.FIX, Phase.HOLDING, "models/m", 3), new Hook(Section.FIX, Phase.RELEASED, "models/m", 3));
  }

  @Test
  void getPipelineScheduleOfAnUnknownModelIsNotFound() throws Exception {
    Answer<PipelineSchedule> schedule = new Answer<>();
    service.getPipelineSchedule(GetPipelineScheduleRequest.newBuilder().setName("models/nope").setThroughStep(1).build(),
        schedule);
    Status status = schedule.error();
    assertThat(status.getCode()).isEqualTo(Status.Code.NOT_FOUND);
    assertThat(status.getDescription()).contains("models/nope");
  }

  @Test
  void aStepDecisionCarriesItsGenerationTheHorizonAndTheNewestGeneration() throws Exception {
    create();
    Answer<Model> updated = new Answer<>();
    service.updatePipeline(UpdatePipelineRequest.newBuilder().setName("models/m")
        .setPipeline(Pipeline.parse("sgd(0.05)").toProto()).setAtStep(4).build(), updated);
    assertThat(updated.value().getPipelineScheduleCount()).isEqualTo(2);

    Answer<StepDecision> w1 = report("workers/w1", 0, 0, 0);
    Answer<StepDecision> w2 = report("workers/w2", 0, 0, 1);
    // block sums 2 + 2: norm 2
    StepDecision expected = StepDecision.newBuilder().setAction(StepDecision.Action.APPLY).setStep(0).setUpdate(0)
        .setLearningRate(0.1).setClipScale(1f).setGradientNorm(2.0)
        .setGeneration(0).setFixedThrough(1).setLatestGeneration(1).build();
    assertThat(w1.value()).isEqualTo(expected);
    assertThat(w2.value()).isEqualTo(expected);
  }

  @Test
  void aReportUnderAnotherGenerationIsFailedPrecondition() throws Exception {
    create();
    Answer<StepDecision> w1 = report("workers/w1", 0, 1, 0);
    Answer<StepDecision> w2 = report("workers/w2", 0, 0, 1);
    for (Answer<StepDecision> a : List.of(w1, w2)) {
      Status status = a.error();
      assertThat(status.getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
      assertThat(status.getDescription()).contains("generation 0 in force").contains("workers/w1 prepared it under generation 1");
    }
  }

  @Test
  void checkpointModelAndCreateModelFromItGoThroughTheService(@TempDir Path dir) throws Exception {
    create();
    Answer<Checkpoint> checkpoint = new Answer<>();
    service.checkpointModel(CheckpointModelRequest.newBuilder().setName("models/m").setDirectory(dir.toString())
        .setAtStep(0).build(), checkpoint);
    assertThat(checkpoint.value().getPath()).isEqualTo(dir.resolve("step-0000000000").toString());

    Answer<Model> restored = new Answer<>();
    service.createModel(CreateModelRequest.newBuilder().setModelId("r").setRestoreFrom(dir.toString()).build(), restored);
    assertThat(restored.value().getName()).isEqualTo("models/r");
    assertThat(restored.value().getTensorsList()).isEqualTo(twoWorkerModel("sgd(0.1)").getTensorsList());

    Answer<Model> both = new Answer<>();
    service.createModel(CreateModelRequest.newBuilder().setModelId("x").setRestoreFrom(dir.toString())
        .setModel(twoWorkerModel("sgd(0.1)")).build(), both);
    Status refused = both.error();
    assertThat(refused.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(refused.getDescription()).contains("model and restore_from are both set");
  }
}
