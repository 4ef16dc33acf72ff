package dev.shardopt.worker.store;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * A counter that only grows, and whoever waits for it to reach a value: each waiter is a future
 * completed by the {@link #advanceTo} that reaches its value, or failed by a timeout from the
 * shared scheduler. No thread is parked per waiter, so a thousand waiting pulls cost a thousand
 * small objects, not a thousand threads.
 */
public final class VersionWaiters {
  private final ScheduledExecutorService timeouts;
  private final TreeMap<Long, List<CompletableFuture<Long>>> waiting = new TreeMap<>(); // guarded by this
  private long value; // guarded by this
  private int count; // guarded by this
  private RuntimeException failure; // guarded by this

  public VersionWaiters(ScheduledExecutorService timeouts) {
    this.timeouts = timeouts;
  }

  public synchronized long current() {
    return value;
  }

  /** How many waiters are registered and not yet completed. */
  public synchronized int waiting() {
    return count;
  }

  /**
   * A future completed with the value once it is at least {@code target}; failed with {@code
   * onTimeout}'s exception after {@code timeoutMillis}, or with the failure given to {@link #failAll}.
   */
  public CompletableFuture<Long> await(long target, long timeoutMillis, Supplier<RuntimeException> onTimeout) {
    CompletableFuture<Long> f = new CompletableFuture<>();
    synchronized (this) {
      if (failure != null) {
        f.completeExceptionally(failure);
        return f;
      }
      if (value >= target) {
        f.complete(value);
        return f;
      }
      waiting.computeIfAbsent(target, t -> new ArrayList<>()).add(f);
      count++;
    }
    ScheduledFuture<?> timer = timeouts.schedule(() -> {
      if (remove(target, f)) {
        f.completeExceptionally(onTimeout.get());
      }
    }, timeoutMillis, TimeUnit.MILLISECONDS);
    f.whenComplete((v, e) -> timer.cancel(false));
    return f;
  }

  /** Raises the value to {@code v} (never lowers it) and completes the waiters it reaches. */
  public void advanceTo(long v) {
    List<CompletableFuture<Long>> ready = new ArrayList<>();
    long now;
    synchronized (this) {
      if (v <= value) {
        return;
      }
      value = v;
      now = v;
      Iterator<Map.Entry<Long, List<CompletableFuture<Long>>>> it = waiting.headMap(v, true).entrySet().iterator();
      while (it.hasNext()) {
        ready.addAll(it.next().getValue());
        it.remove();
      }
      count -= ready.size();
    }
    for (CompletableFuture<Long> f : ready) { // outside the lock: completions run their continuations
      f.complete(now);
    }
  }

  /** Fails every waiter, and every later one, with {@code e}. */
  public void failAll(RuntimeException e) {
    List<CompletableFuture<Long>> all = new ArrayList<>();
    synchronized (this) {
      if (failure == null) {
        failure = e;
      }
      waiting.values().forEach(all::addAll);
      waiting.clear();
      count = 0;
    }
    for (CompletableFuture<Long> f : all) {
      f.completeExceptionally(e);
    }
  }

  private synchronized boolean remove(long target, CompletableFuture<Long> f) {
    List<CompletableFuture<Long>> l = waiting.get(target);
    if (l == null || !l.remove(f)) {
      return false;
    }
    if (l.isEmpty()) {
      waiting.remove(target);
    }
    count--;
    return true;
  }
}
