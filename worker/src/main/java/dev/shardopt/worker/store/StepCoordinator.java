package dev.shardopt.worker.store;

import dev.shardopt.engine.BlockStatistics;
import dev.shardopt.v1.PipelineSchedule;
import java.util.List;

/**
 * The worker's view of the coordinator: phase one of a synchronous step (report this worker's
 * shard statistics) and phase two (the global decision, the same for every worker); the model's
 * pipeline schedule; and the end of the initial upload.
 */
public interface StepCoordinator {

  /**
   * Reports this worker's statistics for {@code step}, prepared under pipeline {@code generation},
   * and waits for the decision.
   *
   * @throws dev.shardopt.rpc.ApiException UNAVAILABLE or DEADLINE_EXCEEDED when the step cannot
   *     complete (another worker did not report in time, or the coordinator is unreachable);
   *     FAILED_PRECONDITION when the generation is not the schedule's at {@code step}
   */
  BarrierDecision decide(String model, long step, long generation, List<BlockStatistics> stats);

  /**
   * The model's pipeline schedule, fixed through {@code throughStep} from now on: no change can be
   * scheduled at a step at or before the returned fixed_through, which is >= {@code throughStep}.
   */
  PipelineSchedule schedule(String model, long throughStep);

  /** This worker has every upload shard of {@code model} loaded. */
  void loaded(String model);
}
