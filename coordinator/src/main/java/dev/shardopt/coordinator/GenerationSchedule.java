package dev.shardopt.coordinator;

import dev.shardopt.dsl.InvalidPipelineException;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.engine.ShardGroup;
import dev.shardopt.rpc.ApiException;
import dev.shardopt.v1.PipelineGeneration;
import dev.shardopt.v1.PipelineSchedule;
import java.util.ArrayList;
import java.util.List;

/**
 * One model's pipeline schedule: its generations (0 = the creation pipeline, from step 0) and the
 * horizon {@code fixedThrough}, the last step some worker may have started, so no change may come
 * at or before it. Not thread-safe: {@link ModelRegistry} guards it with the model's lock.
 */
final class GenerationSchedule {

  /** {@code pipeline} is in force from step {@code fromStep} on, until a higher generation starts. */
  record Generation(long generation, long fromStep, Pipeline pipeline) {
    PipelineGeneration toProto() {
      return PipelineGeneration.newBuilder().setGeneration(generation).setFromStep(fromStep)
          .setPipeline(pipeline.toProto()).build();
    }
  }

  private final String model;
  private final List<String> tensorNames;
  /** By generation; fromStep never decreases, so the last entry is the newest and starts last. */
  private final List<Generation> generations = new ArrayList<>();
  private long fixedThrough;

  GenerationSchedule(String model, Pipeline initial, List<String> tensorNames) {
    this.model = model;
    this.tensorNames = List.copyOf(tensorNames);
    generations.add(new Generation(0, 0, initial));
  }

  /**
   * The schedule of a model restored at {@code step}: {@code generations} as a checkpoint recorded
   * them (generation 0, the model's {@code initial} pipeline, from step 0, then each in order, each
   * checked as {@link #append} checks a change), fixed through {@code step}, which the workers
   * continue from.
   *
   * @throws ApiException INVALID_ARGUMENT naming the generation that does not fit
   */
  static GenerationSchedule restored(String model, Pipeline initial, List<PipelineGeneration> generations,
      List<String> tensorNames, long step) {
    GenerationSchedule s = new GenerationSchedule(model, initial, tensorNames);
    if (generations.isEmpty() || generations.get(0).getGeneration() != 0 || generations.get(0).getFromStep() != 0) {
      throw ApiException.invalidArgument("the checkpoint's pipeline_schedule of " + model
          + " must start with generation 0 from step 0");
    }
    for (int i = 1; i < generations.size(); i++) {
      PipelineGeneration g = generations.get(i);
      try {
        if (g.getGeneration() != i) {
          throw ApiException.invalidArgument("generation " + g.getGeneration() + " is listed where generation " + i
              + " belongs");
        }
        s.append(Pipeline.fromProto(g.getPipeline()), g.getFromStep());
      } catch (ApiException | InvalidPipelineException e) {
        throw ApiException.invalidArgument("the checkpoint's pipeline_schedule of " + model + ", generation "
            + g.getGeneration() + " from step " + g.getFromStep() + ": " + e.getMessage());
      }
    }
    s.fixThrough(step);
    return s;
  }

  /**
   * Adds the next generation from {@code atStep} on, or refuses it and changes nothing.
   *
   * @throws ApiException FAILED_PRECONDITION when a worker may have started {@code atStep}, when
   *     {@code atStep} is before the newest entry's step, or when {@code next} cannot follow the
   *     pipeline in force at {@code atStep}; INVALID_ARGUMENT when it has no settings for a tensor
   */
  Generation append(Pipeline next, long atStep) {
    Generation newest = latest();
    long earliest = Math.max(fixedThrough + 1, newest.fromStep());
    if (atStep <= fixedThrough) {
      throw ApiException.failedPrecondition("at_step " + atStep + " of " + model + " is too early: the schedule is fixed"
          + " through step " + fixedThrough + " (a worker may have started it); choose at_step " + earliest + " or later");
    }
    if (atStep < newest.fromStep()) {
      throw ApiException.failedPrecondition("at_step " + atStep + " of " + model + " is before generation "
          + newest.generation() + ", scheduled at step " + newest.fromStep() + "; choose at_step " + earliest + " or later");
    }
    try {
      ShardGroup.checkCompatible(at(atStep).pipeline(), next);
    } catch (IllegalArgumentException e) {
      throw ApiException.failedPrecondition("pipeline: " + e.getMessage());
    }
    for (String tensor : tensorNames) {
      try {
        next.settingsFor(tensor);
      } catch (InvalidPipelineException e) {
        throw ApiException.invalidArgument("pipeline: " + e.getMessage());
      }
    }
    Generation added = new Generation(newest.generation() + 1, atStep, next);
    generations.add(added);
    return added;
  }

  /** Undoes the last {@link #append} (its change could not be made durable). */
  void dropLatest() {
    if (generations.size() > 1) {
      generations.remove(generations.size() - 1);
    }
  }

  /** The generation in force at {@code step}: the highest among those starting at or before it. */
  Generation at(long step) {
    for (int i = generations.size() - 1; i >= 0; i--) {
      if (generations.get(i).fromStep() <= step) {
        return generations.get(i);
      }
    }
    throw new IllegalArgumentException("step " + step + " is before step 0");
  }

  Generation latest() {
    return generations.get(generations.size() - 1);
  }

  long fixedThrough() {
    return fixedThrough;
  }

  /** From now on no change may come at or before {@code step}; the horizon never moves back. */
  void fixThrough(long step) {
    fixedThrough = Math.max(fixedThrough, step);
  }

  List<PipelineGeneration> generationsProto() {
    return generations.stream().map(Generation::toProto).toList();
  }

  PipelineSchedule toProto() {
    return PipelineSchedule.newBuilder().addAllGenerations(generationsProto()).setFixedThrough(fixedThrough).build();
  }
}
