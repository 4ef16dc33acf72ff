package dev.shardopt.client;

import dev.shardopt.v1.StepMetrics;

/**
 * Statistics of one step of a model, from {@code Coordinator.GetMetrics}.
 *
 * @param step the push index
 * @param update updates applied before this one (t)
 * @param skipped the step was skipped (skipNonFinite)
 * @param learningRate lr_t before lrScale
 * @param gradientNorm global L2 norm of the gradient before clipNorm (after clipValue)
 * @param clippedNorm the norm after clipNorm
 * @param barrierWaitMillis how long the step barrier waited, from the first worker's report to the last
 */
public record StepMetric(long step, long update, boolean skipped, double learningRate,
    double gradientNorm, double clippedNorm, double barrierWaitMillis) {

  static StepMetric of(StepMetrics m) {
    return new StepMetric(m.getStep(), m.getUpdate(), m.getSkipped(), m.getLearningRate(),
        m.getGradientNorm(), m.getClippedNorm(), m.getBarrierWaitMillis());
  }
}
