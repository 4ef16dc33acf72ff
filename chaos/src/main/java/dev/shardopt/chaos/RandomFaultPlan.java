package dev.shardopt.chaos;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * A reproducible random choice of faults: for each call on a matching method, one draw
 * {@code u = random.nextDouble()} from a {@code java.util.Random(seed)}; with faults
 * {@code f1..fk} of probabilities {@code p1..pk} (in the order added), the call gets {@code fi} for
 * the first {@code i} with {@code u < p1 + ... + pi}, and no fault when {@code u >= p1 + ... + pk}.
 * The same seed and the same sequence of calls give the same faults; {@link #injected()} lists them.
 */
public final class RandomFaultPlan {
  private final Random random;
  private final long seed;
  private final List<Fault> faults;
  private final double[] cumulative;
  private final List<InjectedFault> injected = new ArrayList<>();
  private long calls;

  private RandomFaultPlan(long seed, List<Fault> faults, double[] cumulative) {
    this.seed = seed;
    this.random = new Random(seed);
    this.faults = List.copyOf(faults);
    this.cumulative = cumulative.clone();
  }

  /** A plan drawn from {@code new Random(seed)}; add faults with {@link Builder#with}. */
  public static Builder seeded(long seed) {
    return new Builder(seed);
  }

  public long seed() {
    return seed;
  }

  /** The fault for the next call, or null for none; records it. */
  synchronized Fault next(String method) {
    calls++;
    double u = random.nextDouble();
    for (int i = 0; i < faults.size(); i++) {
      if (u < cumulative[i]) {
        injected.add(new InjectedFault(calls, method, faults.get(i)));
        return faults.get(i);
      }
    }
    return null;
  }

  /** The faults chosen so far, in the order of the calls. */
  public synchronized List<InjectedFault> injected() {
    return List.copyOf(injected);
  }

  /** Calls the plan has drawn for so far. */
  public synchronized long calls() {
    return calls;
  }

  /** Collects the faults and their probabilities. */
  public static final class Builder {
    private final long seed;
    private final List<Fault> faults = new ArrayList<>();
    private final List<Double> probabilities = new ArrayList<>();

    private Builder(long seed) {
      this.seed = seed;
    }

    /**
     * {@code fault} with probability {@code p} per call.
     *
     * @throws IllegalArgumentException when p is not in [0, 1] or the probabilities add up to more than 1
     */
    public Builder with(Fault fault, double p) {
      if (fault == null) {
        throw new IllegalArgumentException("random fault plan: fault must not be null");
      }
      if (!(p >= 0 && p <= 1)) {
        throw new IllegalArgumentException("random fault plan: the probability of " + fault + " must be in [0, 1], got " + p);
      }
      double sum = probabilities.stream().mapToDouble(Double::doubleValue).sum() + p;
      if (sum > 1 + 1e-12) {
        throw new IllegalArgumentException("random fault plan: the probabilities must add up to at most 1, got " + sum
            + " with " + fault + " at " + p);
      }
      faults.add(fault);
      probabilities.add(p);
      return this;
    }

    public RandomFaultPlan build() {
      double[] cumulative = new double[faults.size()];
      double sum = 0;
      for (int i = 0; i < cumulative.length; i++) {
        sum += probabilities.get(i);
        cumulative[i] = sum;
      }
      return new RandomFaultPlan(seed, faults, cumulative);
    }
  }
}
