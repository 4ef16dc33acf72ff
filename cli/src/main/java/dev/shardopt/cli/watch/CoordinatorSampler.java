package dev.shardopt.cli.watch;

import dev.shardopt.v1.ClusterStatus;
import dev.shardopt.v1.CoordinatorGrpc;
import dev.shardopt.v1.GetMetricsRequest;
import dev.shardopt.v1.GetStatusRequest;
import dev.shardopt.v1.Model;
import dev.shardopt.v1.StepMetrics;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/** Samples the cluster through the coordinator's GetStatus and, per model, GetMetrics (what {@code status} reads). */
public final class CoordinatorSampler implements ClusterSampler {
  private final CoordinatorGrpc.CoordinatorBlockingStub stub;
  private final long deadlineMillis;
  private final LongSupplier clock;

  public CoordinatorSampler(CoordinatorGrpc.CoordinatorBlockingStub stub, long deadlineMillis, LongSupplier nanoClock) {
    this.stub = stub;
    this.deadlineMillis = deadlineMillis;
    this.clock = nanoClock;
  }

  @Override
  public ClusterSample sample(FromStep fromStep) {
    try {
      ClusterStatus status = stub.withDeadlineAfter(deadlineMillis, TimeUnit.MILLISECONDS)
          .getStatus(GetStatusRequest.getDefaultInstance());
      long taken = clock.getAsLong(); // the step counts are the status's: time it by its answer
      Map<String, List<StepMetrics>> steps = new LinkedHashMap<>();
      for (Model m : status.getModelsList()) {
        try {
          steps.put(m.getName(), stub.withDeadlineAfter(deadlineMillis, TimeUnit.MILLISECONDS).getMetrics(
              GetMetricsRequest.newBuilder().setName(m.getName()).setFromStep(fromStep.of(m.getName(), m.getStep())).build())
              .getStepsList());
        } catch (StatusRuntimeException e) {
          if (e.getStatus().getCode() != Status.Code.NOT_FOUND) { // NOT_FOUND: deleted since the status; next sample drops it
            throw e;
          }
        }
      }
      return ClusterSample.of(taken, status, steps);
    } catch (StatusRuntimeException e) {
      Status s = e.getStatus();
      return ClusterSample.failed(clock.getAsLong(), s.getCode() + (s.getDescription() == null ? "" : ": " + s.getDescription()));
    }
  }
}
