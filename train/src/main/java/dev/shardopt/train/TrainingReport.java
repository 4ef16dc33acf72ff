package dev.shardopt.train;

import dev.shardopt.client.StepMetric;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalInt;

/**
 * The outcome of one training run.
 *
 * @param config       what was run
 * @param losses       the training loss of each step: the mean of the K trainers' slice losses (each the mean
 *                     cross-entropy over its rows), in trainer order
 * @param evalSteps    the steps at which the test accuracy was measured: after that many updates (0: the
 *                     initial parameters), ending with {@code config.steps()}
 * @param evalAccuracy the test accuracy at each of {@code evalSteps}, with the parameters pulled at that
 *                     version and trainer 0's running batch-norm statistics
 * @param metrics      the coordinator's statistics of each step (gradient norm before and after clipNorm, lr)
 * @param correct      test rows classified correctly after the last step
 * @param testSize     rows in the test set
 * @param trainSeconds wall time from the first step to the end of the final evaluation
 * @param setupSeconds wall time to create the model and build the trainers' graphs
 * @param phases       where trainer 0's time went
 */
public record TrainingReport(TrainingConfig config, double[] losses, long[] evalSteps, double[] evalAccuracy,
    List<StepMetric> metrics, int correct, int testSize, double trainSeconds, double setupSeconds,
    PhaseTimes phases) {

  /** The default window of {@link #finalLoss()} and {@link #stepsToLoss(double)}. */
  public static final int LOSS_WINDOW = 50;

  public TrainingReport {
    losses = losses.clone();
    evalSteps = evalSteps.clone();
    evalAccuracy = evalAccuracy.clone();
    metrics = List.copyOf(metrics);
  }

  /**
   * Seconds trainer 0 spent in each phase: pulling (which includes waiting for the other trainers to push
   * the previous step), the SameDiff forward/backward pass (with setting the parameters and updating the
   * running statistics), pushing (until every worker acknowledged), and evaluating.
   */
  public record PhaseTimes(double pull, double compute, double push, double eval) {}

  /** Test accuracy after the last step. */
  public double accuracy() {
    return testSize == 0 ? 0 : (double) correct / testSize;
  }

  /** The mean training loss of the last {@value #LOSS_WINDOW} steps (fewer if the run is shorter). */
  public double finalLoss() {
    return finalLoss(LOSS_WINDOW);
  }

  public double finalLoss(int window) {
    int n = Math.min(window, losses.length);
    double s = 0;
    for (int i = losses.length - n; i < losses.length; i++) {
      s += losses[i];
    }
    return s / n;
  }

  /**
   * The number of steps after which the mean loss of the last {@value #LOSS_WINDOW} steps first reached
   * {@code threshold} or less (only full windows count), or empty if it never did.
   */
  public OptionalInt stepsToLoss(double threshold) {
    return stepsToLoss(threshold, LOSS_WINDOW);
  }

  public OptionalInt stepsToLoss(double threshold, int window) {
    double[] m = movingAverage(losses, window);
    for (int i = window - 1; i < m.length; i++) {
      if (m[i] <= threshold) {
        return OptionalInt.of(i + 1);
      }
    }
    return OptionalInt.empty();
  }

  /** The trailing mean over up to {@code window} values ending at each index. */
  public static double[] movingAverage(double[] v, int window) {
    if (window < 1) {
      throw new IllegalArgumentException("window must be >= 1, got " + window);
    }
    double[] out = new double[v.length];
    double sum = 0;
    for (int i = 0; i < v.length; i++) {
      sum += v[i];
      if (i >= window) {
        sum -= v[i - window];
      }
      out[i] = sum / Math.min(i + 1, window);
    }
    return out;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TrainingReport r && config.equals(r.config) && Arrays.equals(losses, r.losses)
        && Arrays.equals(evalSteps, r.evalSteps) && Arrays.equals(evalAccuracy, r.evalAccuracy)
        && metrics.equals(r.metrics) && correct == r.correct && testSize == r.testSize
        && trainSeconds == r.trainSeconds && setupSeconds == r.setupSeconds && phases.equals(r.phases);
  }

  @Override
  public int hashCode() {
    return config.hashCode() * 31 + Arrays.hashCode(losses);
  }

  @Override
  public String toString() {
    return String.format("TrainingReport{%s, test accuracy %.4f (%d/%d) after %d steps in %.1f s}",
        config.pipeline(), accuracy(), correct, testSize, losses.length, trainSeconds);
  }
}
