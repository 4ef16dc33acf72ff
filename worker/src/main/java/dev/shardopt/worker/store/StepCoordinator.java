package dev.shardopt.worker.store;

import dev.shardopt.worker.engine.ShardStatistics;
import dev.shardopt.worker.engine.StepDecision;
import java.util.List;

/**
 * The worker's view of the coordinator: phase one of a synchronous step (report this worker's
 * shard statistics) and phase two (the global decision, the same for every worker).
 */
public interface StepCoordinator {

  /**
   * Reports this worker's statistics for {@code step} and waits for the decision.
   *
   * @throws dev.shardopt.proto.ApiException UNAVAILABLE or DEADLINE_EXCEEDED when the step cannot
   *     complete (another worker did not report in time, or the coordinator is unreachable)
   */
  StepDecision decide(String model, long step, List<ShardStatistics> stats);

  /** This worker has every shard of {@code model} loaded. */
  void loaded(String model);
}
