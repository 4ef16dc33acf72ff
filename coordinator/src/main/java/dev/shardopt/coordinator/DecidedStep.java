package dev.shardopt.coordinator;

import dev.shardopt.engine.UpdateDecision;
import dev.shardopt.v1.StepDecision;

/**
 * Phase two of a SYNC step as the workers get it: the decision, the pipeline generation it was made
 * under, and how far the schedule is fixed now, so that a worker learns of a change without asking.
 *
 * @param fixedThrough the schedule's horizon once the step was decided (the next step at least)
 * @param latestGeneration the schedule's newest generation then
 */
public record DecidedStep(long step, UpdateDecision decision, long generation, long fixedThrough, long latestGeneration) {

  public StepDecision toProto() {
    return StepDecision.newBuilder()
        .setAction(decision.applies() ? StepDecision.Action.APPLY : StepDecision.Action.SKIP)
        .setStep(step).setUpdate(decision.update()).setLearningRate(decision.learningRate())
        .setClipScale(decision.clipScale()).setGradientNorm(decision.gradientNorm())
        .setGeneration(generation).setFixedThrough(fixedThrough).setLatestGeneration(latestGeneration).build();
  }

  /** The decision a state dir recorded ({@link #toProto}): the same answer to a retried report. */
  static DecidedStep fromProto(StepDecision d) {
    UpdateDecision decision = new UpdateDecision(
        d.getAction() == StepDecision.Action.SKIP ? UpdateDecision.Action.SKIP : UpdateDecision.Action.APPLY,
        d.getUpdate(), d.getLearningRate(), d.getClipScale(), d.getGradientNorm(), null);
    return new DecidedStep(d.getStep(), decision, d.getGeneration(), d.getFixedThrough(), d.getLatestGeneration());
  }
}
