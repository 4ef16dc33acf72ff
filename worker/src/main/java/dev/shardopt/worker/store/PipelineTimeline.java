package dev.shardopt.worker.store;

import dev.shardopt.dsl.InvalidPipelineException;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.rpc.ApiException;
import dev.shardopt.v1.PipelineGeneration;
import dev.shardopt.v1.PipelineSchedule;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * This worker's copy of one model's pipeline schedule: which pipeline generation is in force at
 * each step, known to be final through {@link #fixedThrough()}. The coordinator never schedules a
 * change at or before a fixed_through it has handed out, so the copy is right for every step up to
 * it; for a later step, {@link #ensureFixedThrough} asks the coordinator first (one call in flight
 * per model: the others wait for it).
 */
public final class PipelineTimeline {

  /** One schedule entry: {@code pipeline} is in force from {@code fromStep} until a higher generation starts. */
  public record Generation(long generation, long fromStep, Pipeline pipeline) {}

  private final String model;
  private final StepCoordinator coordinator;
  private final Object lock = new Object();
  // ---- guarded by lock
  private List<Generation> generations;
  private long fixedThrough;
  private boolean fetching;

  /** Generation 0 is the creation pipeline, fixed through step 0 (which may start at once). */
  public PipelineTimeline(String model, Pipeline initial, StepCoordinator coordinator) {
    this.model = model;
    this.coordinator = coordinator;
    this.generations = List.of(new Generation(0, 0, initial));
  }

  /**
   * A restored model's schedule: every generation it had, fixed through {@code fixedThrough} (the
   * checkpoint's step, which the coordinator's record also starts from).
   *
   * @throws IllegalStateException when a generation's pipeline does not validate or there is none
   */
  public static PipelineTimeline restored(String model, List<PipelineGeneration> generations, long fixedThrough,
      StepCoordinator coordinator) {
    PipelineTimeline t = new PipelineTimeline(model, null, coordinator);
    synchronized (t.lock) {
      t.merge(PipelineSchedule.newBuilder().addAllGenerations(generations).setFixedThrough(fixedThrough).build());
    }
    return t;
  }

  public long fixedThrough() {
    synchronized (lock) {
      return fixedThrough;
    }
  }

  /** The newest generation this worker knows. */
  public long latestGeneration() {
    synchronized (lock) {
      return generations.get(generations.size() - 1).generation();
    }
  }

  /**
   * Makes sure the schedule is known through {@code step}, asking the coordinator when it is not.
   *
   * @throws ApiException UNAVAILABLE when the coordinator cannot be asked
   */
  public void ensureFixedThrough(long step) {
    while (true) {
      synchronized (lock) {
        while (fetching && step > fixedThrough) {
          try {
            lock.wait();
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw ApiException.unavailable("the worker is shutting down");
          }
        }
        if (step <= fixedThrough) {
          return;
        }
        fetching = true;
      }
      PipelineSchedule schedule = null;
      try {
        schedule = coordinator.schedule(model, step);
      } finally {
        synchronized (lock) {
          fetching = false;
          if (schedule != null) {
            merge(schedule);
          }
          lock.notifyAll();
        }
      }
      if (schedule.getFixedThrough() < step) {
        throw new IllegalStateException("the coordinator fixed the schedule of " + model + " through step "
            + schedule.getFixedThrough() + " when asked for step " + step);
      }
    }
  }

  /**
   * The generation in force at {@code step}: the highest generation among those starting at or
   * before it.
   *
   * @throws IllegalStateException when the step is beyond what is known to be fixed (a bug: callers
   *     ensure it first)
   */
  public Generation at(long step) {
    synchronized (lock) {
      if (step > fixedThrough) {
        throw new IllegalStateException("the pipeline schedule of " + model + " is fixed through step " + fixedThrough
            + " only, not " + step);
      }
      Generation best = null;
      for (Generation g : generations) {
        if (g.fromStep() <= step && (best == null || g.generation() > best.generation())) {
          best = g;
        }
      }
      return best;
    }
  }

  /**
   * What a step's decision says: the schedule is fixed through {@code fixedThrough}, and its newest
   * generation is {@code latestGeneration}. A newer generation than this copy has means the copy
   * is not right beyond what it knew, so nothing is raised: the next push beyond asks.
   */
  public void learn(long fixedThrough, long latestGeneration) {
    synchronized (lock) {
      if (latestGeneration <= generations.get(generations.size() - 1).generation()) {
        this.fixedThrough = Math.max(this.fixedThrough, fixedThrough);
      }
    }
  }

  private void merge(PipelineSchedule schedule) {
    List<Generation> parsed = new ArrayList<>();
    for (PipelineGeneration g : schedule.getGenerationsList()) {
      try {
        parsed.add(new Generation(g.getGeneration(), g.getFromStep(), Pipeline.fromProto(g.getPipeline())));
      } catch (InvalidPipelineException e) {
        throw new IllegalStateException("the coordinator's pipeline generation " + g.getGeneration() + " of " + model
            + " does not validate: " + e.getMessage(), e);
      }
    }
    if (parsed.isEmpty()) {
      throw new IllegalStateException("the coordinator sent an empty pipeline schedule for " + model);
    }
    parsed.sort(Comparator.comparingLong(Generation::generation));
    generations = List.copyOf(parsed);
    fixedThrough = Math.max(fixedThrough, schedule.getFixedThrough());
  }
}
