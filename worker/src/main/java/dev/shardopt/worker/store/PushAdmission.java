package dev.shardopt.worker.store;

import dev.shardopt.rpc.ApiException;

/**
 * The checks a push passes after the exactly-once check and before it is recorded: the schedule
 * is known through the push's step (asking the coordinator when not), the generation the trainer
 * names (if any) is the one in force there, and the gradient is valid under that pipeline.
 */
final class PushAdmission {
  private final String model;
  private final int trainers;
  private final PipelineTimeline timeline;
  private final ModelShards shards;

  PushAdmission(String model, int trainers, PipelineTimeline timeline, ModelShards shards) {
    this.model = model;
    this.trainers = trainers;
    this.timeline = timeline;
    this.shards = shards;
  }

  /**
   * @return the generation the push is to be applied under
   * @throws ApiException FAILED_PRECONDITION for another generation, INVALID_ARGUMENT for a bad gradient
   */
  PipelineTimeline.Generation admit(GradientPush p) {
    timeline.ensureFixedThrough(p.step());
    PipelineTimeline.Generation at = timeline.at(p.step());
    if (p.generation().isPresent() && p.generation().getAsLong() != at.generation()) {
      throw ApiException.failedPrecondition("trainer " + p.trainer() + " computed step " + p.step() + " of " + model
          + " under pipeline generation " + p.generation().getAsLong() + ", but generation " + at.generation()
          + " is in force at step " + p.step() + "; read the model's pipeline schedule and push again");
    }
    shards.validate(at, p.trainer(), trainers, p.gradient(), p.firstNonFinite());
    return at;
  }
}
