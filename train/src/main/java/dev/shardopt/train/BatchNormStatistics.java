package dev.shardopt.train;

import java.util.Arrays;

/**
 * The running mean and variance of one batch-norm layer, kept by one trainer and never sent to the
 * parameter server.
 *
 * <p><b>Where they live, and why.</b> The statistics are not trained by the optimizer: they are exponential
 * averages of the batch statistics, and pushing them through the server as "gradients" would run them
 * through clipping, weight decay and the optimizer's rule. So each trainer keeps its own, updated from the
 * batch statistics of its own slice of each global batch, as PyTorch's {@code DistributedDataParallel}
 * does without SyncBatchNorm: {@code running = m·running + (1-m)·batch} with {@code m} =
 * {@value #DEFAULT_MOMENTUM} (PyTorch's momentum 0.1), the variance unbiased ({@code ·n/(n-1)}) as in
 * PyTorch. Evaluation uses trainer 0's statistics (as a DDP checkpoint does, saved from rank 0). The
 * trainers' slices come from the same distribution, so their statistics agree closely.
 *
 * <p>Starts at mean 0, variance 1. Not thread-safe: owned by one trainer thread; read by others only after
 * that thread has published it (e.g. through a join or a completed future).
 */
public final class BatchNormStatistics {
  public static final double DEFAULT_MOMENTUM = 0.9;

  private final double momentum;
  private final double[] mean;
  private final double[] variance;
  private long updates;

  public BatchNormStatistics(int features) {
    this(features, DEFAULT_MOMENTUM);
  }

  public BatchNormStatistics(int features, double momentum) {
    if (features < 1) {
      throw new IllegalArgumentException("features must be >= 1, got " + features);
    }
    if (!(momentum >= 0 && momentum < 1)) {
      throw new IllegalArgumentException("momentum must be in [0, 1), got " + momentum);
    }
    this.momentum = momentum;
    this.mean = new double[features];
    this.variance = new double[features];
    Arrays.fill(variance, 1.0);
  }

  /**
   * Folds in one batch's statistics: its per-feature mean and biased variance over {@code rows} rows
   * ({@code rows >= 2}).
   */
  public void update(double[] batchMean, double[] batchBiasedVariance, int rows) {
    if (batchMean.length != mean.length || batchBiasedVariance.length != mean.length) {
      throw new IllegalArgumentException("expected " + mean.length + " features, got " + batchMean.length
          + " and " + batchBiasedVariance.length);
    }
    if (rows < 2) {
      throw new IllegalArgumentException("rows must be >= 2, got " + rows);
    }
    double unbias = rows / (rows - 1.0);
    for (int i = 0; i < mean.length; i++) {
      mean[i] = momentum * mean[i] + (1 - momentum) * batchMean[i];
      variance[i] = momentum * variance[i] + (1 - momentum) * batchBiasedVariance[i] * unbias;
    }
    updates++;
  }

  /** A copy of the running mean. */
  public double[] mean() {
    return mean.clone();
  }

  /** A copy of the running (unbiased) variance. */
  public double[] variance() {
    return variance.clone();
  }

  /** Batches folded in so far. */
  public long updates() {
    return updates;
  }

  /**
   * Statistics restored from a saved {@link #mean()}, {@link #variance()}, {@link #updates()} and
   * {@link #momentum()} (see {@link TrainerState}): they continue bitwise as the saved ones would.
   */
  public static BatchNormStatistics restored(double momentum, double[] mean, double[] variance, long updates) {
    if (mean.length != variance.length) {
      throw new IllegalArgumentException("mean and variance differ in length: " + mean.length + " and "
          + variance.length);
    }
    BatchNormStatistics s = new BatchNormStatistics(mean.length, momentum);
    System.arraycopy(mean, 0, s.mean, 0, mean.length);
    System.arraycopy(variance, 0, s.variance, 0, variance.length);
    s.updates = updates;
    return s;
  }

  public double momentum() {
    return momentum;
  }

  /** A copy, e.g. a snapshot for evaluation. */
  public BatchNormStatistics copy() {
    return restored(momentum, mean, variance, updates);
  }
}
