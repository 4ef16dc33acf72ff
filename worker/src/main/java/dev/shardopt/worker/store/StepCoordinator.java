package dev.shardopt.worker.store;

import dev.shardopt.engine.BlockStatistics;
import dev.shardopt.engine.UpdateDecision;
import java.util.List;

/**
 * The worker's view of the coordinator: phase one of a synchronous step (report this worker's
 * shard statistics) and phase two (the global decision, the same for every worker).
 */
public interface StepCoordinator {

  /**
   * Reports this worker's statistics for {@code step} and waits for the decision.
   *
   * @throws dev.shardopt.rpc.ApiException UNAVAILABLE or DEADLINE_EXCEEDED when the step cannot
   *     complete (another worker did not report in time, or the coordinator is unreachable)
   */
  UpdateDecision decide(String model, long step, List<BlockStatistics> stats);

  /** This worker has every shard of {@code model} loaded. */
  void loaded(String model);
}
