package dev.shardopt.train;

import dev.shardopt.dsl.Pipeline;
import java.util.Objects;

/**
 * What one training run does. Immutable; build with {@link #defaults(Pipeline)} and the {@code with…}
 * methods. Checked when built: each value's range is in its method's comment.
 *
 * @param pipeline  the optimizer pipeline the parameter server applies
 * @param trainers  K, the synchronous trainers (threads), each computing the gradient of its slice
 * @param steps     the optimizer steps (global batches)
 * @param batch     B, the global batch size, a multiple of K with at least 2 rows per trainer (batch norm
 *                  needs a variance)
 * @param seed      seeds the split, the batch order and the initial parameters
 * @param hidden    H, the width of the hidden layer
 * @param evalEvery evaluate the test accuracy every this many steps (and after the last)
 * @param testFraction the share of each class held out for the test set
 * @param replicas  copies of every shard on the parameter server, each on a different worker (1: none)
 */
public record TrainingConfig(Pipeline pipeline, int trainers, int steps, int batch, long seed, int hidden,
    int evalEvery, double testFraction, int replicas) {

  /** One copy of every shard. */
  public TrainingConfig(Pipeline pipeline, int trainers, int steps, int batch, long seed, int hidden, int evalEvery,
      double testFraction) {
    this(pipeline, trainers, steps, batch, seed, hidden, evalEvery, testFraction, 1);
  }

  public static final int DEFAULT_TRAINERS = 2;
  public static final int DEFAULT_STEPS = 1500;
  public static final int DEFAULT_BATCH = 64;
  public static final long DEFAULT_SEED = 42;
  public static final int DEFAULT_HIDDEN = 64;
  public static final double DEFAULT_TEST_FRACTION = 0.2;

  public TrainingConfig {
    Objects.requireNonNull(pipeline, "pipeline");
    if (trainers < 1) {
      throw new IllegalArgumentException("trainers must be >= 1, got " + trainers);
    }
    if (steps < 1) {
      throw new IllegalArgumentException("steps must be >= 1, got " + steps);
    }
    if (batch % trainers != 0 || batch / trainers < 2) {
      throw new IllegalArgumentException("batch must be a multiple of trainers (" + trainers
          + ") with at least 2 rows per trainer, got " + batch);
    }
    if (hidden < 1) {
      throw new IllegalArgumentException("hidden must be >= 1, got " + hidden);
    }
    if (evalEvery < 1) {
      throw new IllegalArgumentException("evalEvery must be >= 1, got " + evalEvery);
    }
    if (!(testFraction > 0 && testFraction < 1)) {
      throw new IllegalArgumentException("testFraction must be in (0, 1), got " + testFraction);
    }
    if (replicas < 1 || replicas > 16) {
      throw new IllegalArgumentException("replicas must be in [1, 16], got " + replicas);
    }
  }

  /** The defaults with {@code pipeline}: 2 trainers, 1500 steps, batch 64, seed 42, H = 64, 20% test. */
  public static TrainingConfig defaults(Pipeline pipeline) {
    return new TrainingConfig(pipeline, DEFAULT_TRAINERS, DEFAULT_STEPS, DEFAULT_BATCH, DEFAULT_SEED,
        DEFAULT_HIDDEN, defaultEvalEvery(DEFAULT_STEPS), DEFAULT_TEST_FRACTION);
  }

  /** About 30 evaluations per run: {@code max(1, steps / 30)}. */
  public static int defaultEvalEvery(int steps) {
    return Math.max(1, steps / 30);
  }

  public TrainingConfig withPipeline(Pipeline p) {
    return new TrainingConfig(p, trainers, steps, batch, seed, hidden, evalEvery, testFraction, replicas);
  }

  public TrainingConfig withTrainers(int k) {
    return new TrainingConfig(pipeline, k, steps, batch, seed, hidden, evalEvery, testFraction, replicas);
  }

  /** Also sets {@link #evalEvery} to {@link #defaultEvalEvery(int)}. */
  public TrainingConfig withSteps(int n) {
    return new TrainingConfig(pipeline, trainers, n, batch, seed, hidden, defaultEvalEvery(n), testFraction, replicas);
  }

  public TrainingConfig withBatch(int b) {
    return new TrainingConfig(pipeline, trainers, steps, b, seed, hidden, evalEvery, testFraction, replicas);
  }

  public TrainingConfig withSeed(long s) {
    return new TrainingConfig(pipeline, trainers, steps, batch, s, hidden, evalEvery, testFraction, replicas);
  }

  public TrainingConfig withHidden(int h) {
    return new TrainingConfig(pipeline, trainers, steps, batch, seed, h, evalEvery, testFraction, replicas);
  }

  public TrainingConfig withReplicas(int r) {
    return new TrainingConfig(pipeline, trainers, steps, batch, seed, hidden, evalEvery, testFraction, r);
  }

  public TrainingConfig withEvalEvery(int n) {
    return new TrainingConfig(pipeline, trainers, steps, batch, seed, hidden, n, testFraction, replicas);
  }
}
