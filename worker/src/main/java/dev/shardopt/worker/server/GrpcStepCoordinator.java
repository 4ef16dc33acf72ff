package dev.shardopt.worker.server;

import dev.shardopt.engine.BlockStatistics;
import dev.shardopt.engine.UpdateDecision;
import dev.shardopt.rpc.ApiException;
import dev.shardopt.rpc.CoordinatorAnswers;
import dev.shardopt.v1.CoordinatorGrpc;
import dev.shardopt.v1.GetPipelineScheduleRequest;
import dev.shardopt.v1.PipelineSchedule;
import dev.shardopt.v1.ReportLoadedRequest;
import dev.shardopt.v1.ReportStepRequest;
import dev.shardopt.v1.ShardStatistics;
import dev.shardopt.v1.StepDecision;
import dev.shardopt.worker.store.BarrierDecision;
import dev.shardopt.worker.store.StepCoordinator;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * {@link StepCoordinator} over the Coordinator service. A call the coordinator does not answer
 * (UNAVAILABLE without its answer trailer: it is down or restarting) is sent again with backoff
 * until the deadline; the coordinator rebuilds an in-flight step's barrier from these retried reports.
 */
final class GrpcStepCoordinator implements StepCoordinator {
  private static final long MAX_BACKOFF_MILLIS = 1_000;

  private final ManagedChannel channel;
  private final Supplier<String> workerName;
  private final long deadlineMillis;

  GrpcStepCoordinator(ManagedChannel channel, Supplier<String> workerName, long deadlineMillis) {
    this.channel = channel;
    this.workerName = workerName;
    this.deadlineMillis = deadlineMillis;
  }

  /** Runs {@code call}, again while the coordinator does not answer, within {@code deadlineMillis} in all. */
  private <T> T retrying(Function<CoordinatorGrpc.CoordinatorBlockingStub, T> call) {
    return CoordinatorAnswers.retryWhileUnanswered(channel,
        System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(deadlineMillis), 50, MAX_BACKOFF_MILLIS,
        left -> call.apply(CoordinatorGrpc.newBlockingStub(channel).withDeadlineAfter(left, TimeUnit.NANOSECONDS)));
  }

  @Override
  public BarrierDecision decide(String model, long step, long generation, List<BlockStatistics> stats) {
    ReportStepRequest.Builder req = ReportStepRequest.newBuilder()
        .setModel(model).setWorker(workerName.get()).setStep(step).setGeneration(generation);
    for (BlockStatistics s : stats) {
      ShardStatistics.Builder b = ShardStatistics.newBuilder()
          .setTensorIndex(s.tensorIndex()).setFirstBlock(s.firstBlock()).setFirstNonFinite(s.firstNonFinite());
      for (double d : s.blockSums()) {
        b.addBlockSums(d);
      }
      req.addShards(b);
    }
    StepDecision d;
    try {
      d = retrying(s -> s.reportStep(req.build()));
    } catch (StatusRuntimeException e) {
      throw new ApiException(e.getStatus().getCode() == Status.Code.DEADLINE_EXCEEDED ? Status.Code.UNAVAILABLE : e.getStatus().getCode(),
          "the coordinator did not decide step " + step + ": " + e.getStatus().getCode() + " " + e.getStatus().getDescription());
    }
    UpdateDecision update = new UpdateDecision(
        d.getAction() == StepDecision.Action.SKIP ? UpdateDecision.Action.SKIP : UpdateDecision.Action.APPLY,
        d.getUpdate(), d.getLearningRate(), d.getClipScale(), d.getGradientNorm(), null);
    return new BarrierDecision(update, d.getGeneration(), d.getFixedThrough(), d.getLatestGeneration());
  }

  @Override
  public PipelineSchedule schedule(String model, long throughStep) {
    try {
      return retrying(s -> s.getPipelineSchedule(
          GetPipelineScheduleRequest.newBuilder().setName(model).setThroughStep(throughStep).build()));
    } catch (StatusRuntimeException e) {
      throw new ApiException(Status.Code.UNAVAILABLE, "could not read the pipeline schedule of " + model
          + " through step " + throughStep + " from the coordinator: " + e.getStatus().getCode() + " "
          + e.getStatus().getDescription());
    }
  }

  @Override
  public void loaded(String model) {
    try {
      retrying(s -> s.reportLoaded(ReportLoadedRequest.newBuilder().setModel(model).setWorker(workerName.get()).build()));
    } catch (StatusRuntimeException e) {
      throw new ApiException(Status.Code.UNAVAILABLE, "could not report " + model + " loaded to the coordinator: "
          + e.getStatus().getCode() + " " + e.getStatus().getDescription());
    }
  }
}
