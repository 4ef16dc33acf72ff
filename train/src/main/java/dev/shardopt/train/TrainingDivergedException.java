package dev.shardopt.train;

/**
 * A trainer computed a loss or gradient that is NaN or infinite and the pipeline does not skip such steps
 * ({@code skipNonFinite()}): the run diverged, typically because the learning rate is too large for the
 * rule. Thrown by {@link DataParallelTrainer#train} instead of pushing a gradient the server would refuse.
 */
public final class TrainingDivergedException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final int step;

  public TrainingDivergedException(int step, int rank, String what) {
    super("the training diverged at step " + step + ": trainer " + rank + "'s " + what
        + " is not finite (try a smaller learning rate, clipNorm(...), or skipNonFinite())");
    this.step = step;
  }

  /** The step whose loss or gradient was not finite. */
  public int step() {
    return step;
  }
}
