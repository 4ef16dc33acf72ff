package dev.shardopt.engine;

/**
 * What one push did.
 *
 * @param outcome whether the push completed an update, was buffered in an accumulation window, or
 *     completed a window whose step was skipped as non-finite
 * @param updatesApplied t after this push
 * @param learningRate lr_t used by the update (before lrScale); NaN unless applied
 * @param gradientNorm the global L2 norm of the step's gradient before clipNorm (after clipValue);
 *     NaN unless applied
 * @param clipScale the clipNorm coefficient applied to the gradient, 1 when clipNorm is off
 */
public record StepResult(
    Outcome outcome, long updatesApplied, double learningRate, double gradientNorm, float clipScale) {

  public enum Outcome {
    APPLIED,
    ACCUMULATED,
    SKIPPED_NON_FINITE
  }
}
