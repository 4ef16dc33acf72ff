package dev.shardopt.worker.store;

import dev.shardopt.dsl.Pipeline;
import dev.shardopt.engine.BlockStatistics;
import dev.shardopt.engine.StepDecider;
import dev.shardopt.engine.UpdateDecision;
import dev.shardopt.rpc.ApiException;
import dev.shardopt.v1.PipelineGeneration;
import dev.shardopt.v1.PipelineSchedule;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A coordinator for one worker, as the design has it: a schedule of generations with a horizon
 * (fixed_through) raised by GetPipelineSchedule and by each decided step, and the barrier's
 * decision from this worker's statistics with engine's StepDecider under the pipeline at the step.
 * Records every call, in order.
 */
final class FakeCoordinator implements StepCoordinator {
  private final List<String> tensorNames;
  private final List<PipelineGeneration> generations = new ArrayList<>();
  private long horizon;
  private long t;
  final List<String> calls = Collections.synchronizedList(new ArrayList<>());
  final AtomicInteger loaded = new AtomicInteger();
  volatile RuntimeException failure;
  /** When set, decisions name this generation instead of the schedule's (a coordinator bug). */
  volatile Long decideUnder;

  FakeCoordinator(Pipeline initial, List<String> tensorNames) {
    this.tensorNames = List.copyOf(tensorNames);
    generations.add(PipelineGeneration.newBuilder().setGeneration(0).setFromStep(0).setPipeline(initial.toProto()).build());
  }

  /** As the coordinator's record of a model restored at {@code step} with {@code updates} applied. */
  synchronized void continueFrom(long step, long updates) {
    horizon = step;
    t = updates;
  }

  /** UpdatePipeline: a new generation from {@code atStep}, refused at or before the horizon. */
  synchronized void change(Pipeline next, long atStep) {
    if (atStep <= horizon) {
      throw ApiException.failedPrecondition("step " + atStep + " is fixed (through " + horizon + ")");
    }
    if (atStep < generations.get(generations.size() - 1).getFromStep()) {
      throw ApiException.failedPrecondition("step " + atStep + " is before the last change");
    }
    generations.add(PipelineGeneration.newBuilder().setGeneration(generations.size()).setFromStep(atStep)
        .setPipeline(next.toProto()).build());
  }

  private PipelineGeneration at(long step) {
    PipelineGeneration best = null;
    for (PipelineGeneration g : generations) {
      if (g.getFromStep() <= step) {
        best = g;
      }
    }
    return best;
  }

  @Override
  public synchronized BarrierDecision decide(String model, long step, long generation, List<BlockStatistics> stats) {
    calls.add("decide " + step + " under " + generation);
    if (failure != null) {
      throw failure;
    }
    PipelineGeneration g = at(step);
    if (g.getGeneration() != generation) {
      throw ApiException.failedPrecondition("step " + step + " is generation " + g.getGeneration() + ", reported " + generation);
    }
    UpdateDecision d = StepDecider.decide(Pipeline.fromProto(g.getPipeline()), t, stats, tensorNames);
    if (d.applies()) {
      t++;
    }
    horizon = Math.max(horizon, step + 1);
    long named = decideUnder == null ? generation : decideUnder;
    return new BarrierDecision(d, named, horizon, generations.size() - 1);
  }

  @Override
  public synchronized PipelineSchedule schedule(String model, long throughStep) {
    calls.add("schedule through " + throughStep);
    horizon = Math.max(horizon, throughStep);
    return PipelineSchedule.newBuilder().addAllGenerations(generations).setFixedThrough(horizon).build();
  }

  @Override
  public void loaded(String model) {
    loaded.incrementAndGet();
  }
}
