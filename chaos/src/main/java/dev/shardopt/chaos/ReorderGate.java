package dev.shardopt.chaos;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Calls held back for a reorder: each is released when a later call on the same method has gone
 * through the target, or after its longest hold.
 */
final class ReorderGate {
  private final ScheduledExecutorService timer;
  private final Map<String, List<Held>> parked = new HashMap<>();

  ReorderGate(ScheduledExecutorService timer) {
    this.timer = timer;
  }

  /** Holds {@code release} until a call on {@code method} goes through, at most {@code maxHoldMillis}. */
  void park(String method, Runnable release, long maxHoldMillis) {
    Held h = new Held(release);
    synchronized (this) {
      parked.computeIfAbsent(method, m -> new ArrayList<>()).add(h);
    }
    timer.schedule(() -> {
      synchronized (this) {
        List<Held> l = parked.get(method);
        if (l != null) {
          l.remove(h);
        }
      }
      h.release();
    }, maxHoldMillis, TimeUnit.MILLISECONDS);
  }

  /** A call on {@code method} went through: releases the calls held for it. */
  void passed(String method) {
    List<Held> released;
    synchronized (this) {
      released = parked.remove(method);
    }
    if (released != null) {
      released.forEach(Held::release);
    }
  }

  synchronized int held() {
    return parked.values().stream().mapToInt(List::size).sum();
  }

  private record Held(Runnable action, AtomicBoolean done) {
    Held(Runnable action) {
      this(action, new AtomicBoolean());
    }

    void release() {
      if (done.compareAndSet(false, true)) {
        action.run();
      }
    }
  }
}
