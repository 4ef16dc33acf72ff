package dev.shardopt.coordinator;

import com.google.protobuf.Empty;
import dev.shardopt.rpc.ApiException;
import dev.shardopt.v1.Checkpoint;
import dev.shardopt.v1.CheckpointModelRequest;
import dev.shardopt.v1.ClusterStatus;
import dev.shardopt.v1.CoordinatorGrpc;
import dev.shardopt.v1.CreateModelRequest;
import dev.shardopt.v1.DeleteModelRequest;
import dev.shardopt.v1.FencedModel;
import dev.shardopt.v1.GetMetricsRequest;
import dev.shardopt.v1.GetModelRequest;
import dev.shardopt.v1.GetPipelineScheduleRequest;
import dev.shardopt.v1.GetShardMapRequest;
import dev.shardopt.v1.GetStatusRequest;
import dev.shardopt.v1.HeartbeatRequest;
import dev.shardopt.v1.HeartbeatResponse;
import dev.shardopt.v1.ListModelsRequest;
import dev.shardopt.v1.ListModelsResponse;
import dev.shardopt.v1.Model;
import dev.shardopt.v1.ModelMetrics;
import dev.shardopt.v1.ModelProgress;
import dev.shardopt.v1.ParsePipelineRequest;
import dev.shardopt.v1.ParsePipelineResponse;
import dev.shardopt.v1.PipelineSchedule;
import dev.shardopt.v1.RegisterWorkerRequest;
import dev.shardopt.v1.RegisterWorkerResponse;
import dev.shardopt.v1.ReportLoadedRequest;
import dev.shardopt.v1.ReportStepRequest;
import dev.shardopt.v1.ShardMap;
import dev.shardopt.v1.StepDecision;
import dev.shardopt.v1.UpdatePipelineRequest;
import dev.shardopt.engine.BlockStatistics;
import io.grpc.stub.StreamObserver;
import jakarta.inject.Inject;
import java.util.List;
import java.util.function.Supplier;

/** The Coordinator gRPC service: translates protobuf to {@link ModelRegistry} and {@link WorkerRegistry} calls. */
public final class CoordinatorService extends CoordinatorGrpc.CoordinatorImplBase {
  private final ModelRegistry models;
  private final WorkerRegistry workers;
  private final Checkpointer checkpointer;
  private final CheckpointRestorer restorer;

  @Inject
  public CoordinatorService(ModelRegistry models, WorkerRegistry workers, Checkpointer checkpointer,
      CheckpointRestorer restorer) {
    this.models = models;
    this.workers = workers;
    this.checkpointer = checkpointer;
    this.restorer = restorer;
  }

  @Override
  public void registerWorker(RegisterWorkerRequest request, StreamObserver<RegisterWorkerResponse> response) {
    unary(response, () -> RegisterWorkerResponse.newBuilder().setName(workers.register(request.getAddress(), request.getDevice()))
        .setHeartbeatIntervalMs((int) workers.heartbeatMillis()).build());
  }

  @Override
  public void heartbeat(HeartbeatRequest request, StreamObserver<HeartbeatResponse> response) {
    unary(response, () -> {
      workers.heartbeat(request);
      // a worker back from a partition learns here, not at its next step report, that it was
      // declared dead: it stops serving those models at once
      HeartbeatResponse.Builder answer = HeartbeatResponse.newBuilder();
      models.fencedOff(request.getWorker(), request.getModelsList().stream().map(ModelProgress::getModel).toList())
          .forEach((model, why) -> answer.addFenced(FencedModel.newBuilder().setModel(model).setReason(why)));
      return answer.build();
    });
  }

  @Override
  public void createModel(CreateModelRequest request, StreamObserver<Model> response) {
    unary(response, () -> request.getRestoreFrom().isEmpty() ? models.create(request.getModelId(), request.getModel())
        : restorer.restore(request));
  }

  @Override
  public void getModel(GetModelRequest request, StreamObserver<Model> response) {
    unary(response, () -> models.get(request.getName()));
  }

  @Override
  public void listModels(ListModelsRequest request, StreamObserver<ListModelsResponse> response) {
    unary(response, () -> ListModelsResponse.newBuilder().addAllModels(models.list()).build());
  }

  @Override
  public void deleteModel(DeleteModelRequest request, StreamObserver<Empty> response) {
    unary(response, () -> {
      models.delete(request.getName());
      return Empty.getDefaultInstance();
    });
  }

  @Override
  public void getShardMap(GetShardMapRequest request, StreamObserver<ShardMap> response) {
    unary(response, () -> models.shardMap(request.getName()));
  }

  @Override
  public void updatePipeline(UpdatePipelineRequest request, StreamObserver<Model> response) {
    unary(response, () -> models.updatePipelineTo(request.getName(),
        PipelineInput.require("", request.hasPipeline() ? request.getPipeline() : null, request.getPipelineText()),
        request.getAtStep()));
  }

  @Override
  public void parsePipeline(ParsePipelineRequest request, StreamObserver<ParsePipelineResponse> response) {
    unary(response, () -> PipelineInput.parse(request));
  }

  @Override
  public void getPipelineSchedule(GetPipelineScheduleRequest request, StreamObserver<PipelineSchedule> response) {
    unary(response, () -> models.pipelineSchedule(request.getName(), request.getThroughStep()));
  }

  @Override
  public void reportStep(ReportStepRequest request, StreamObserver<StepDecision> response) {
    List<BlockStatistics> stats = request.getShardsList().stream()
        .map(s -> new BlockStatistics(s.getTensorIndex(), (int) s.getFirstBlock(),
            s.getBlockSumsList().stream().mapToDouble(Double::doubleValue).toArray(), s.getFirstNonFinite()))
        .toList();
    StepBarrier.Reply reply = new StepBarrier.Reply() {
      @Override
      public void decided(DecidedStep d) {
        response.onNext(d.toProto());
        response.onCompleted();
      }

      @Override
      public void failed(ApiException e) {
        response.onError(e.toStatus());
      }
    };
    try {
      models.reportStep(request.getModel(), request.getWorker(), request.getStep(), request.getGeneration(), stats, reply);
    } catch (RuntimeException e) {
      response.onError(ApiException.toStatus(e));
    }
  }

  @Override
  public void reportLoaded(ReportLoadedRequest request, StreamObserver<Empty> response) {
    unary(response, () -> {
      models.reportLoaded(request.getModel(), request.getWorker());
      return Empty.getDefaultInstance();
    });
  }

  @Override
  public void checkpointModel(CheckpointModelRequest request, StreamObserver<Checkpoint> response) {
    unary(response, () -> checkpointer.checkpoint(request.getName(), request.getDirectory(),
        request.hasAtStep() ? request.getAtStep() : null));
  }

  @Override
  public void getStatus(GetStatusRequest request, StreamObserver<ClusterStatus> response) {
    unary(response, () -> ClusterStatus.newBuilder().addAllWorkers(workers.statuses(models.shardsByWorker()))
        .addAllModels(models.list()).build());
  }

  @Override
  public void getMetrics(GetMetricsRequest request, StreamObserver<ModelMetrics> response) {
    unary(response, () -> models.metrics(request.getName(), request.getFromStep()));
  }

  private static <T> void unary(StreamObserver<T> response, Supplier<T> call) {
    T result;
    try {
      result = call.get();
    } catch (RuntimeException e) {
      response.onError(ApiException.toStatus(e));
      return;
    }
    response.onNext(result);
    response.onCompleted();
  }
}
