package dev.shardopt.dsl;

/**
 * The learning rate as a closed-form function of {@code t}, the number of updates already applied.
 *
 * <p>{@code lr_t = lr * f(t)}, with {@code W} warmup steps (0 for none) and {@code tau = t - W}:
 *
 * <ul>
 *   <li>warmup: {@code f = t/W} for {@code t < W} (the first update uses lr 0);
 *   <li>no decay: {@code f = 1};
 *   <li>cosine(T, minLr): {@code p = min(tau/(T-W), 1)}, {@code lr_t = minLr + (lr-minLr)(1+cos(pi p))/2};
 *   <li>stepDecay(s, gamma): {@code f = gamma^floor(tau/s)};
 *   <li>exponentialDecay(gamma): {@code f = gamma^tau};
 *   <li>cosineRestarts(T0, mult, minLr): torch's {@code CosineAnnealingWarmRestarts} after tau steps.
 * </ul>
 */
public record LearningRateSchedule(double lr, long warmupSteps, Decay decay) {

  public LearningRateSchedule {
    Check.nonNegative("lr", lr);
    Check.steps("warmup", warmupSteps, 0);
    if (decay instanceof Decay.Cosine c && c.totalSteps() <= warmupSteps) {
      throw new InvalidPipelineException(
          "cosine totalSteps must be greater than warmup, got cosine("
              + c.totalSteps() + ") with warmup(" + warmupSteps + "): totalSteps counts the warmup steps");
    }
  }

  /**
   * The learning rate of the update that follows {@code t} applied updates. The cosine factor
   * {@code (1+cos)/2} is formed before it scales {@code lr - minLr}: it lies in [0, 1] (the product
   * first overflowed to -inf for {@code minLr} near {@code Double.MAX_VALUE}); halving is exact, so
   * ordinary values give the same bits either way. See {@link #cosine}.
   */
  public double at(long t) {
    if (t < 0) {
      throw new IllegalArgumentException("t must be >= 0, got " + t);
    }
    if (t < warmupSteps) {
      return lr * ((double) t / warmupSteps);
    }
    long tau = t - warmupSteps;
    if (decay instanceof Decay.None) {
      return lr;
    } else if (decay instanceof Decay.Cosine c) {
      double p = Math.min((double) tau / (c.totalSteps() - warmupSteps), 1.0);
      return cosine(c.minLr(), lr, Math.PI * p);
    } else if (decay instanceof Decay.StepDecay s) {
      return lr * Math.pow(s.gamma(), (double) (tau / s.every()));
    } else if (decay instanceof Decay.ExponentialDecay e) {
      return lr * Math.pow(e.gamma(), (double) tau);
    } else if (decay instanceof Decay.CosineRestarts r) {
      long cycle = r.period();
      long inCycle = tau;
      if (r.mult() == 1) {
        inCycle = tau % cycle;
      } else {
        while (inCycle >= cycle) {
          inCycle -= cycle;
          if (cycle > Long.MAX_VALUE / r.mult()) {
            // The next cycle is longer than any long tau, so it holds inCycle; its length only
            // enters the cosine as a double.
            double next = (double) cycle * r.mult();
            return cosine(r.minLr(), lr, Math.PI * inCycle / next);
          }
          cycle *= r.mult();
        }
      }
      return cosine(r.minLr(), lr, Math.PI * inCycle / cycle);
    }
    throw new AssertionError(decay);
  }

  /**
   * {@code minLr + (lr - minLr) * ((1 + cos(angle)) / 2)}, PyTorch's arithmetic. The exact value lies
   * between lr and minLr, but the rounded sum can pass the larger by an ulp; where that passes
   * {@code Double.MAX_VALUE} (lr or minLr within an ulp of it: {@code sgd(1.7976931348623157e308)
   * .cosine(255, 6.062716103411431e307)} at step 0) it is the larger of the two instead of infinity.
   * Every finite result keeps its bits.
   */
  private static double cosine(double minLr, double lr, double angle) {
    double v = minLr + (lr - minLr) * ((1 + Math.cos(angle)) / 2);
    return Double.isInfinite(v) ? Math.max(lr, minLr) : v;
  }
}
