package dev.shardopt.chaos;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * How many faults of each kind the proxy injected, per full method name, and how many calls it saw
 * in all per method. Safe to read from any thread while calls run.
 */
public final class FaultCounters {
  private final ConcurrentMap<FaultKind, ConcurrentMap<String, LongAdder>> faults = new ConcurrentHashMap<>();
  private final ConcurrentMap<String, LongAdder> calls = new ConcurrentHashMap<>();

  void call(String method) {
    calls.computeIfAbsent(method, m -> new LongAdder()).increment();
  }

  void fault(FaultKind kind, String method) {
    faults.computeIfAbsent(kind, k -> new ConcurrentHashMap<>()).computeIfAbsent(method, m -> new LongAdder()).increment();
  }

  /** Faults of {@code kind} injected into calls of {@code method}. */
  public long count(FaultKind kind, String method) {
    LongAdder a = faults.getOrDefault(kind, new ConcurrentHashMap<>()).get(method);
    return a == null ? 0 : a.sum();
  }

  /** Faults of {@code kind} injected into calls of any method. */
  public long count(FaultKind kind) {
    return faults.getOrDefault(kind, new ConcurrentHashMap<>()).values().stream().mapToLong(LongAdder::sum).sum();
  }

  /** Faults of every kind injected into calls of any method. */
  public long total() {
    return faults.values().stream().flatMap(m -> m.values().stream()).mapToLong(LongAdder::sum).sum();
  }

  /** Calls of {@code method} the proxy received, with a fault or without. */
  public long calls(String method) {
    LongAdder a = calls.get(method);
    return a == null ? 0 : a.sum();
  }

  /** Every count now: kind, then method (sorted), then count. */
  public Map<FaultKind, Map<String, Long>> snapshot() {
    Map<FaultKind, Map<String, Long>> out = new TreeMap<>();
    faults.forEach((kind, perMethod) -> {
      Map<String, Long> m = new TreeMap<>();
      perMethod.forEach((method, n) -> m.put(method, n.sum()));
      out.put(kind, m);
    });
    return out;
  }

  @Override
  public String toString() {
    return snapshot().toString();
  }
}
