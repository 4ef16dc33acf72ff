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
import dev.shardopt.v1.GetModelRequest;
import dev.shardopt.v1.GetPipelineScheduleRequest;
import dev.shardopt.v1.ListModelsRequest;
import dev.shardopt.v1.ListModelsResponse;
import dev.shardopt.v1.Momentum;
import dev.shardopt.v1.OptimizerPipeline;
import dev.shardopt.v1.ParsePipelineRequest;
import dev.shardopt.v1.ParsePipelineResponse;
import dev.shardopt.v1.PipelineError;
import dev.shardopt.v1.Sgd;
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

  // ---------------------------------------------------------------- the pipeline as DSL text

  /** The two-worker model with its pipeline as text only (no message). */
  private static Model textModel(String text) {
    return twoWorkerModel("sgd()").toBuilder().clearPipeline().setPipelineText(text).build();
  }

  private Answer<Model> createModel(String id, Model model) {
    Answer<Model> answer = new Answer<>();
    service.createModel(CreateModelRequest.newBuilder().setModelId(id).setModel(model).build(), answer);
    return answer;
  }

  private List<String> modelNames() throws Exception {
    Answer<ListModelsResponse> list = new Answer<>();
    service.listModels(ListModelsRequest.getDefaultInstance(), list);
    return list.value().getModelsList().stream().map(Model::getName).toList();
  }

  @Test
  void createModelAcceptsThePipelineAsTextAlone() throws Exception {
    Model m = createModel("t", textModel("momentum(0.05).beta(0.8).warmup(10)")).value();
    assertThat(m.getPipelineText()).isEqualTo("momentum(0.05).beta(0.8).warmup(10)");
    assertThat(m.getPipeline().getMomentum()).isEqualTo(
        Momentum.newBuilder().setLr(0.05).setBeta(0.8).setDampening(0).build());
    assertThat(m.getPipeline().getSchedule().getWarmupSteps()).isEqualTo(10);
    assertThat(m.getPipelineSchedule(0).getPipeline()).isEqualTo(m.getPipeline());
  }

  @Test
  void createModelAcceptsTextAndMessageThatAreTheSamePipeline() throws Exception {
    Model both = textModel("sgd(1e-1)").toBuilder()
        .setPipeline(OptimizerPipeline.newBuilder().setSgd(Sgd.newBuilder().setLr(0.1))).build();
    assertThat(createModel("b", both).value().getPipelineText()).isEqualTo("sgd(0.1)");
  }

  @Test
  void createModelRefusesTextAndMessageThatDifferAndCreatesNothing() throws Exception {
    Model differ = textModel("sgd(0.2)").toBuilder()
        .setPipeline(OptimizerPipeline.newBuilder().setSgd(Sgd.newBuilder().setLr(0.1))).build();
    Status refused = createModel("d", differ).error();
    assertThat(refused.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(refused.getDescription()).isEqualTo("model.pipeline and model.pipeline_text are different pipelines:"
        + " model.pipeline is sgd(0.1), model.pipeline_text is sgd(0.2); send one of them, or both the same");
    assertThat(modelNames()).isEmpty();
  }

  @Test
  void createModelWithoutAPipelineIsInvalidArgument() throws Exception {
    Status refused = createModel("n", twoWorkerModel("sgd()").toBuilder().clearPipeline().build()).error();
    assertThat(refused.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(refused.getDescription()).startsWith("model.pipeline is missing: send model.pipeline_text");
    assertThat(modelNames()).isEmpty();
  }

  @Test
  void aBadTextIsInvalidArgumentWithTheColumnAndASuggestion() throws Exception {
    Status refused = createModel("x", textModel("adam(1e-3).warmup(500).cosin(1e5)")).error();
    assertThat(refused.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(refused.getDescription())
        .isEqualTo("model.pipeline_text: unknown method 'cosin' at column 24 — did you mean 'cosine'?");
    assertThat(modelNames()).isEmpty();
  }

  @Test
  void updatePipelineTakesTextAndRefusesABadOneChangingNothing() throws Exception {
    create();
    Answer<Model> updated = new Answer<>();
    service.updatePipeline(UpdatePipelineRequest.newBuilder().setName("models/m")
        .setPipelineText("sgd(0.05).clipNorm(2.0)").setAtStep(3).build(), updated);
    Model m = updated.value();
    assertThat(m.getPipelineText()).isEqualTo("sgd(0.05).clipNorm(2.0)");
    assertThat(m.getPipelineScheduleList()).extracting(g -> g.getGeneration(), g -> g.getFromStep(),
        g -> g.getPipeline().getSgd().getLr())
        .containsExactly(org.assertj.core.groups.Tuple.tuple(0L, 0L, 0.1), org.assertj.core.groups.Tuple.tuple(1L, 3L, 0.05));
    assertThat(m.getPipelineSchedule(1).getPipeline().getClipping().getNorm()).isEqualTo(2.0);

    Answer<Model> typo = new Answer<>();
    service.updatePipeline(UpdatePipelineRequest.newBuilder().setName("models/m")
        .setPipelineText("sgd(0.01).clipNrom(1.0)").setAtStep(5).build(), typo);
    Status refused = typo.error();
    assertThat(refused.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(refused.getDescription())
        .isEqualTo("pipeline_text: unknown method 'clipNrom' at column 11 — did you mean 'clipNorm'?");

    Answer<Model> neither = new Answer<>();
    service.updatePipeline(UpdatePipelineRequest.newBuilder().setName("models/m").setAtStep(5).build(), neither);
    assertThat(neither.error().getDescription()).startsWith("pipeline is missing: send pipeline_text");

    Answer<Model> after = new Answer<>();
    service.getModel(GetModelRequest.newBuilder().setName("models/m").build(), after);
    assertThat(after.value().getPipelineScheduleCount()).isEqualTo(2);
  }

  @Test
  void parsePipelineAnswersTheFormsOrTheErrorsAndCreatesNothing() throws Exception {
    Answer<ParsePipelineResponse> ok = new Answer<>();
    service.parsePipeline(ParsePipelineRequest.newBuilder().setPipelineText("sgd(0.5).accumulate(4)").build(), ok);
    assertThat(ok.value().getErrorsList()).isEmpty();
    assertThat(ok.value().getCanonicalText()).isEqualTo("sgd(0.5).accumulate(4)");
    assertThat(ok.value().getPipeline().getSgd().getLr()).isEqualTo(0.5);
    assertThat(ok.value().getPipeline().getAccumulate()).isEqualTo(4);

    Answer<ParsePipelineResponse> bad = new Answer<>();
    service.parsePipeline(ParsePipelineRequest.newBuilder().setPipelineText("adma(1e-3)").build(), bad);
    assertThat(bad.value().getErrorsList()).containsExactly(PipelineError.newBuilder().setField("pipeline_text")
        .setMessage("unknown method 'adma' at column 1 — did you mean 'adam'?").setColumn(1).build());

    Answer<ParsePipelineResponse> nothing = new Answer<>();
    service.parsePipeline(ParsePipelineRequest.getDefaultInstance(), nothing);
    assertThat(nothing.error().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(modelNames()).isEmpty();
  }
}
