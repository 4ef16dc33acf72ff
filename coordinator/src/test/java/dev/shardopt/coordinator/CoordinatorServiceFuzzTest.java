package dev.shardopt.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import com.google.inject.Guice;
import com.google.inject.Injector;
import com.google.inject.util.Modules;
import dev.shardopt.v1.CreateModelRequest;
import dev.shardopt.v1.DeleteModelRequest;
import dev.shardopt.v1.Initializer;
import dev.shardopt.v1.ListModelsRequest;
import dev.shardopt.v1.ListModelsResponse;
import dev.shardopt.v1.Model;
import dev.shardopt.v1.ReportStepRequest;
import dev.shardopt.v1.ShardStatistics;
import dev.shardopt.v1.StepDecision;
import dev.shardopt.v1.TensorSpec;
import dev.shardopt.v1.TrainingMode;
import dev.shardopt.v1.UpdatePipelineRequest;
import io.grpc.Status;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ScheduledExecutorService;
import org.junit.jupiter.api.AfterAll;

/**
 * Fuzzes the Coordinator service's CreateModel, UpdatePipeline and ReportStep handlers with
 * structurally valid but adversarial messages: shapes with huge, negative or long-overflowing
 * dimensions, many or unicode-named tensors, any trainers, mode, staleness and replicas, pipeline
 * texts of any characters, step reports of any step, generation and statistics (NaN and infinite
 * sums, block indexes past the model). Invariants: a request succeeds or fails with a status a
 * client can act on (never UNKNOWN or INTERNAL, which an escaped exception becomes); a refused
 * CreateModel leaves the models as they were; no allocation sized from an unchecked field (the
 * campaign's small heap makes one an OutOfMemoryError).
 */
class CoordinatorServiceFuzzTest {
  private static final Set<Status.Code> ACTIONABLE = Set.of(Status.Code.INVALID_ARGUMENT,
      Status.Code.OUT_OF_RANGE, Status.Code.FAILED_PRECONDITION, Status.Code.ALREADY_EXISTS,
      Status.Code.NOT_FOUND, Status.Code.RESOURCE_EXHAUSTED, Status.Code.UNAVAILABLE, Status.Code.DEADLINE_EXCEEDED);
  private static final long[] DIMS = {0, 1, 3, 8192, -1, 1L << 31, 1L << 32, Long.MAX_VALUE, Long.MIN_VALUE, 1L << 40};

  static final Injector injector = Guice.createInjector(Modules.override(
      new CoordinatorModule(CoordinatorConfig.defaults().withBarrierTimeoutMillis(200))).with(b ->
      b.bind(WorkerFleet.class).toInstance(new ModelRegistryTest.FakeFleet())));
  static final CoordinatorService service;

  static {
    WorkerRegistry workers = injector.getInstance(WorkerRegistry.class);
    workers.register("host1:7001");
    workers.register("host2:7002");
    workers.register("host3:7003");
    service = injector.getInstance(CoordinatorService.class);
  }

  @AfterAll
  static void stop() {
    injector.getInstance(ScheduledExecutorService.class).shutdownNow();
  }

  private static long dim(FuzzedDataProvider d) {
    return d.consumeBoolean() ? DIMS[d.consumeInt(0, DIMS.length - 1)] : d.consumeLong(-2, 20_000);
  }

  private static List<String> models() throws Exception {
    CoordinatorServiceTest.Answer<ListModelsResponse> list = new CoordinatorServiceTest.Answer<>();
    service.listModels(ListModelsRequest.getDefaultInstance(), list);
    return list.value().getModelsList().stream().map(Model::getName).sorted().toList();
  }

  /** Succeeded (the answer), or failed with an actionable status (null). */
  private static <T> T outcome(CoordinatorServiceTest.Answer<T> a) throws Exception {
    try {
      return a.result.get(10, java.util.concurrent.TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException e) {
      Status s = Status.fromThrowable(e.getCause());
      assertThat(ACTIONABLE).as("%s: %s", s.getCode(), s.getDescription()).contains(s.getCode());
      assertThat(s.getDescription()).as("the error names what is wrong").isNotBlank();
      return null;
    }
  }

  @FuzzTest(maxDuration = "8s")
  void createUpdateAndReport(FuzzedDataProvider d) throws Exception {
    Model.Builder spec = Model.newBuilder().setTrainers(d.consumeInt(-1, 5)).setStaleness(d.consumeInt(-1, 3))
        .setReplicas(d.consumeInt(-1, 5)).setModeValue(d.consumeInt(0, 3));
    if (d.consumeBoolean()) {
      spec.setPipelineText(d.consumeBoolean() ? "adam(1e-3).clipNorm(1.0)" : d.consumeString(40));
    } else {
      spec.setPipeline(dev.shardopt.dsl.Pipeline.parse("sgd(0.1)").toProto());
    }
    int tensors = d.consumeInt(0, 4);
    for (int i = 0; i < tensors; i++) {
      TensorSpec.Builder t = TensorSpec.newBuilder().setName(d.consumeBoolean() ? "t" + i : d.consumeString(10))
          .setInit(Initializer.newBuilder().setZeros(Initializer.Zeros.getDefaultInstance()));
      int rank = d.consumeInt(0, 3);
      for (int k = 0; k < rank; k++) {
        t.addShape(dim(d));
      }
      spec.addTensors(t);
    }
    String id = d.consumeBoolean() ? "m" : d.consumeString(12);
    List<String> before = models();
    CoordinatorServiceTest.Answer<Model> created = new CoordinatorServiceTest.Answer<>();
    service.createModel(CreateModelRequest.newBuilder().setModelId(id).setModel(spec).build(), created);
    Model m = outcome(created);
    if (m == null) {
      assertThat(models()).as("a refused CreateModel changes nothing").isEqualTo(before);
      return;
    }
    String name = m.getName();
    assertThat(m.getReplication().getReplicas()).isBetween(1, 3);
    for (int i = d.consumeInt(0, 4); i > 0; i--) {
      if (d.consumeBoolean()) {
        CoordinatorServiceTest.Answer<?> updated = new CoordinatorServiceTest.Answer<>();
        service.updatePipeline(UpdatePipelineRequest.newBuilder().setName(name).setAtStep(dim(d))
            .setPipelineText(d.consumeBoolean() ? "sgd(0.05)" : d.consumeString(30)).build(), cast(updated));
        outcome(updated);
      } else {
        ReportStepRequest.Builder report = ReportStepRequest.newBuilder().setModel(name)
            .setWorker("workers/w" + d.consumeInt(0, 4)).setStep(dim(d)).setGeneration(d.consumeLong(-1, 3));
        for (int k = d.consumeInt(0, 3); k > 0; k--) {
          ShardStatistics.Builder st = ShardStatistics.newBuilder().setTensorIndex(d.consumeInt(-1, 5))
              .setFirstBlock(d.consumeInt(-1, 1 << 20)).setFirstNonFinite(d.consumeLong(-2, 1 << 20));
          for (int j = d.consumeInt(0, 3); j > 0; j--) {
            st.addBlockSums(d.consumeDouble());
          }
          report.addShards(st);
        }
        CoordinatorServiceTest.Answer<StepDecision> decided = new CoordinatorServiceTest.Answer<>();
        service.reportStep(report.build(), decided);
        outcome(decided);
      }
    }
    CoordinatorServiceTest.Answer<com.google.protobuf.Empty> deleted = new CoordinatorServiceTest.Answer<>();
    service.deleteModel(DeleteModelRequest.newBuilder().setName(name).build(), deleted);
    outcome(deleted);
    assertThat(models()).doesNotContain(name);
  }

  @SuppressWarnings("unchecked")
  private static <T> io.grpc.stub.StreamObserver<T> cast(CoordinatorServiceTest.Answer<?> a) {
    return (io.grpc.stub.StreamObserver<T>) a;
  }
}
