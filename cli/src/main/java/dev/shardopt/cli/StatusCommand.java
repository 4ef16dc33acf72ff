package dev.shardopt.cli;

import dev.shardopt.v1.ClusterStatus;
import dev.shardopt.v1.CoordinatorGrpc;
import dev.shardopt.v1.DeviceStatus;
import dev.shardopt.v1.GetMetricsRequest;
import dev.shardopt.v1.GetStatusRequest;
import dev.shardopt.v1.Model;
import dev.shardopt.v1.ModelMetrics;
import dev.shardopt.v1.StepMetrics;
import dev.shardopt.v1.WorkerStatus;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import dev.shardopt.rpc.security.GrpcSecurity;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code shardopt status}: workers, models, steps, bytes, and each model's latest gradient statistics. */
@Command(name = "status", mixinStandardHelpOptions = true,
    description = "Shows the cluster: workers (health, bytes in and out, device and its memory), models (step, updates, skips) "
        + "and recent gradient norms.")
public final class StatusCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--coordinator", defaultValue = "127.0.0.1:7070", paramLabel = "HOST:PORT",
      description = "The coordinator's address (default: ${DEFAULT-VALUE}).")
  String coordinator;

  @Mixin SecurityOptions security = new SecurityOptions();

  /** {@code cpu "Java heap, 8 threads": shards 1200 bytes, free 1000 of 4000 bytes}, or why there is none. */
  static String device(WorkerStatus w) {
    if (!w.hasDevice()) {
      return "not reported yet";
    }
    DeviceStatus d = w.getDevice();
    return d.getKind() + " \"" + d.getName() + "\": shards " + d.getUsedByShardsBytes() + " bytes, free "
        + (d.getFreeBytes() < 0 ? "unknown" : String.valueOf(d.getFreeBytes()))
        + (d.getTotalBytes() < 0 ? " bytes" : " of " + d.getTotalBytes() + " bytes");
  }

  @Override
  public Integer call() {
    GrpcSecurity grpcSecurity = security.security(null);
    ManagedChannel channel = grpcSecurity.channel(coordinator).build();
    try {
      CoordinatorGrpc.CoordinatorBlockingStub stub = CoordinatorGrpc.newBlockingStub(channel);
      ClusterStatus status = stub.withDeadlineAfter(10, TimeUnit.SECONDS).getStatus(GetStatusRequest.getDefaultInstance());
      PrintWriter out = spec.commandLine().getOut();
      out.printf("coordinator %s: %d workers, %d models%n", coordinator, status.getWorkersCount(), status.getModelsCount());
      out.printf("%-14s %-22s %-9s %8s %7s %12s %12s%n", "WORKER", "ADDRESS", "HEALTH", "LAST", "SHARDS", "BYTES IN", "BYTES OUT");
      for (WorkerStatus w : status.getWorkersList()) {
        out.printf("%-14s %-22s %-9s %6dms %7d %12d %12d%n", w.getName(), w.getAddress(),
            w.getHealthy() ? "healthy" : "UNHEALTHY", w.getMillisSinceHeartbeat(), w.getShards(), w.getBytesIn(), w.getBytesOut());
        out.printf("  device %s%n", device(w));
      }
      out.printf("%-20s %-6s %-8s %8s %8s %7s %8s %5s  %s%n", "MODEL", "MODE", "STATE", "STEP", "UPDATES", "SKIPPED",
          "PUSHES", "DUPS", "PIPELINE");
      for (Model m : status.getModelsList()) {
        out.printf("%-20s %-6s %-8s %8d %8d %7d %8d %5d  %s%n", m.getName(), m.getMode(), m.getState(), m.getStep(),
            m.getUpdatesApplied(), m.getStepsSkipped(), m.getPushes(), m.getDuplicates(), m.getPipelineText());
        if (!m.getFailure().isEmpty()) {
          out.printf("  failure: %s%n", m.getFailure());
        }
        if (m.getReplication().getReplicas() > 1) {
          var r = m.getReplication();
          out.printf("  replicas %d: epoch %d, fewest live copies %d, %d shards under-replicated%s%s%s%n", r.getReplicas(),
              r.getEpoch(), r.getMinLiveCopies(), r.getUnderReplicatedShards(),
              r.getCopyingShards() == 0 ? "" : ", re-replicating " + r.getCopyingShards() + " of " + r.getShards()
                  + " shards",
              r.getCopiesMade() == 0 ? "" : ", " + r.getCopiesMade() + " cop" + (r.getCopiesMade() == 1 ? "y" : "ies")
                  + " re-replicated",
              r.getLostWorkersCount() == 0 ? "" : ", lost " + String.join(", ", r.getLostWorkersList()));
        }
        ModelMetrics metrics = stub.withDeadlineAfter(10, TimeUnit.SECONDS)
            .getMetrics(GetMetricsRequest.newBuilder().setName(m.getName()).setFromStep(Math.max(0, m.getStep() - 5)).build());
        for (StepMetrics s : metrics.getStepsList()) {
          out.printf("  step %-8d update %-8d %s lr %.4g  grad norm %.4g -> %.4g  barrier wait %.1f ms%n", s.getStep(), s.getUpdate(),
              s.getSkipped() ? "SKIPPED" : "       ", s.getLearningRate(), s.getGradientNorm(), s.getClippedNorm(), s.getBarrierWaitMillis());
        }
      }
      out.flush();
      return ShardoptCli.EXIT_OK;
    } catch (StatusRuntimeException e) {
      throw new UserErrorException("cannot reach the coordinator at " + coordinator + ": " + grpcSecurity.describe(e), e);
    } finally {
      channel.shutdownNow();
      grpcSecurity.close();
    }
  }
}
