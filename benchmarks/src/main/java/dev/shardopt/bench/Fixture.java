package dev.shardopt.bench;

import dev.shardopt.engine.kernel.ParallelApply;
import dev.shardopt.engine.kernel.StepScalars;
import dev.shardopt.engine.kernel.UpdateKernel;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * One rule's arrays, kernel and thread pool, shared by the JMH states. Two gradients alternate
 * between updates: a constant gradient drives centered rmsprop's variance estimate v - a^2 to zero
 * and its updates out of range, which is neither realistic nor a fair measurement.
 */
final class Fixture {
  private final ExecutorService pool;
  private final ParallelApply parallel;
  private final UpdateKernel kernel;
  private final float[] param;
  private final float[][] grads;
  private final float[][] state;
  private final StepScalars scalars;
  private int next;

  Fixture(Rule rule, int n, int threads, StepScalars scalars) {
    this.kernel = rule.kernel();
    this.pool = Executors.newFixedThreadPool(Math.max(1, threads - 1), task -> {
      Thread t = new Thread(task, "kernel-helper");
      t.setDaemon(true);
      return t;
    });
    this.parallel = new ParallelApply(pool, threads);
    SplittableRandom random = new SplittableRandom(42);
    param = new float[n];
    grads = new float[2][n];
    for (int i = 0; i < n; i++) {
      param[i] = (float) (random.nextGaussian() * 0.02);
      grads[0][i] = (float) random.nextGaussian();
      grads[1][i] = (float) random.nextGaussian();
    }
    state = kernel.newState(n);
    if (rule == Rule.TRIAD) {
      for (int i = 0; i < n; i++) {
        state[0][i] = (float) random.nextGaussian();
      }
    }
    this.scalars = rule.decoupled ? scalars.withDecoupledDecay(0.01) : scalars;
    // Two updates, so every state slot holds realistic values before the warmup.
    parallel.apply(kernel, param, grads[0], state, StepScalars.of(1, 1e-3));
    parallel.apply(kernel, param, grads[1], state, StepScalars.of(2, 1e-3));
  }

  void update() {
    parallel.apply(kernel, param, grads[next], state, scalars);
    next ^= 1;
  }

  void close() throws InterruptedException {
    pool.shutdownNow();
    pool.awaitTermination(10, TimeUnit.SECONDS);
  }
}
