package dev.shardopt.chaos;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The faults a proxy injects now, changed by the test while calls run. Each call asks once, when it
 * starts: the first rule (in the order added) whose method match fits and that has uses left decides
 * it; a random plan's rule decides "no fault" too when its draw says so.
 */
public final class FaultRules {
  private static final long FOREVER = Long.MAX_VALUE;

  private final List<Rule> rules = new CopyOnWriteArrayList<>();

  /** {@code fault} for every call on {@code match}, until {@link #clear()}. */
  public FaultRules inject(MethodMatch match, Fault fault) {
    return add(match, fault, null, FOREVER);
  }

  /** {@code fault} for the next {@code times} calls on {@code match}. */
  public FaultRules inject(MethodMatch match, Fault fault, long times) {
    if (times < 1) {
      throw new IllegalArgumentException("fault rule: times must be >= 1, got " + times);
    }
    return add(match, fault, null, times);
  }

  /** Let {@code plan} choose the fault of every call on {@code match}, until {@link #clear()}. */
  public FaultRules plan(MethodMatch match, RandomFaultPlan plan) {
    if (plan == null) {
      throw new IllegalArgumentException("fault rule: plan must not be null");
    }
    return add(match, null, plan, FOREVER);
  }

  private FaultRules add(MethodMatch match, Fault fault, RandomFaultPlan plan, long times) {
    if (match == null) {
      throw new IllegalArgumentException("fault rule: match must not be null");
    }
    if (fault == null && plan == null) {
      throw new IllegalArgumentException("fault rule: fault must not be null");
    }
    rules.add(new Rule(match, fault, plan, new AtomicLong(times)));
    return this;
  }

  /** Removes every rule: calls from now on pass untouched. */
  public void clear() {
    rules.clear();
  }

  /** Removes the rules of {@code kind} (the fixed ones; random plans stay). */
  public void remove(FaultKind kind) {
    rules.removeIf(r -> r.fault != null && r.fault.kind() == kind);
  }

  /** The fault for a call of {@code method} that starts now, or null for none. */
  Fault decide(String method) {
    for (Rule r : rules) {
      if (!r.match.matches(method)) {
        continue;
      }
      if (r.plan != null) {
        return r.plan.next(method);
      }
      if (r.take()) {
        return r.fault;
      }
      rules.remove(r); // used up
    }
    return null;
  }

  private record Rule(MethodMatch match, Fault fault, RandomFaultPlan plan, AtomicLong left) {
    boolean take() {
      long n;
      do {
        n = left.get();
        if (n <= 0) {
          return false;
        }
      } while (!left.compareAndSet(n, n == FOREVER ? n : n - 1));
      return true;
    }
  }
}
