package dev.shardopt.coordinator;

import dev.shardopt.rpc.ApiException;
import dev.shardopt.engine.BlockStatistics;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.function.LongSupplier;

/**
 * The synchronous step barrier of one model: each participating worker reports its shards'
 * statistics for a step (phase one) and waits; once every participant has reported, the decision is
 * computed once and sent to all of them (phase two). A step that is not complete within the timeout
 * fails for everyone waiting on it, rather than hanging.
 *
 * <p>A step can be held ({@link #hold}, for a checkpoint's snapshot): a round of it that completes
 * is kept, with no thread waiting and no timeout running, and decided when the hold is released.
 */
public final class StepBarrier {

  /** How a report is answered: a decision, or an error. */
  public interface Reply {
    void decided(DecidedStep d);

    void failed(ApiException e);
  }

  /**
   * Every participant's report of one step, as the decision gets them.
   *
   * @param generations the pipeline generation each worker prepared the step under, by worker
   * @param barrierWaitMillis the time from the step's first report to its last
   * @param firstReportNanos when the step's first report came, on the barrier's clock
   */
  public record CompletedRound(long step, Map<String, Long> generations, List<BlockStatistics> statistics,
      double barrierWaitMillis, long firstReportNanos) {}

  private static final class Round {
    final Map<String, List<BlockStatistics>> stats = new LinkedHashMap<>();
    final Map<String, Long> generations = new LinkedHashMap<>();
    final List<Reply> replies = new ArrayList<>();
    final long startedNanos;
    /** Whether every participant reported, and when the last one did. */
    boolean complete;
    long completedNanos;
    ScheduledFuture<?> timeout;

    Round(long startedNanos) {
      this.startedNanos = startedNanos;
    }
  }

  private final String model;
  /**
   * Guarded by this: shrinks when a worker is declared dead ({@link #removeParticipant}), grows when a
   * copy joins ({@link #addParticipant}).
   */
  private final Set<String> participants;
  /** Workers removed, with why: their reports are refused (fenced). */
  private final Map<String, String> removed = new LinkedHashMap<>();
  private final ScheduledExecutorService timer;
  private final long timeoutMillis;
  /** Every participant's report -> decision; called once per step, under this barrier's lock. */
  private final Function<CompletedRound, DecidedStep> decide;
  /** (step, missing workers) when a round times out. */
  private final BiFunction<Long, Set<String>, ApiException> onTimeout;
  private final LongSupplier nanoTime;

  private final Map<Long, Round> rounds = new LinkedHashMap<>();
  private final Map<Long, DecidedStep> recent = new LinkedHashMap<>() {
    @Override
    protected boolean removeEldestEntry(Map.Entry<Long, DecidedStep> eldest) {
      return size() > 64;
    }
  };
  /** Steps whose decision waits for {@link #release} (a checkpoint's snapshot). */
  private final Set<Long> held = new HashSet<>();
  private ApiException failure;

  /** @param nanoTime the clock of the barrier wait ({@code System::nanoTime}; tests step it by hand) */
  public StepBarrier(String model, Set<String> participants, ScheduledExecutorService timer, long timeoutMillis,
      Function<CompletedRound, DecidedStep> decide, BiFunction<Long, Set<String>, ApiException> onTimeout,
      LongSupplier nanoTime) {
    this.model = model;
    this.participants = new TreeSet<>(participants);
    this.timer = timer;
    this.timeoutMillis = timeoutMillis;
    this.decide = decide;
    this.onTimeout = onTimeout;
    this.nanoTime = nanoTime;
  }

  /**
   * Phase one from {@code worker}, which prepared the step under pipeline {@code generation};
   * {@code reply} is called once, maybe on another thread.
   */
  public void report(String worker, long step, long generation, List<BlockStatistics> stats, Reply reply) {
    Outcome outcome;
    synchronized (this) {
      if (removed.containsKey(worker)) {
        outcome = new Outcome(List.of(reply), null, ApiException.failedPrecondition(fencing(worker)));
      } else if (!participants.contains(worker)) {
        outcome = new Outcome(List.of(reply), null, ApiException.failedPrecondition(worker + " holds no shards of "
            + model + " (participants: " + new TreeSet<>(participants) + ")"));
      } else if (failure != null) {
        outcome = new Outcome(List.of(reply), null, failure);
      } else if (recent.containsKey(step)) {
        outcome = new Outcome(List.of(reply), recent.get(step), null); // a retried report of a decided step
      } else {
        Round r = rounds.computeIfAbsent(step, s -> new Round(nanoTime.getAsLong()));
        r.stats.put(worker, stats);
        r.generations.put(worker, generation);
        r.replies.add(reply); // a worker's retried report gets the answer too
        if (r.timeout == null) {
          r.timeout = timer.schedule(() -> expire(step), timeoutMillis, TimeUnit.MILLISECONDS);
        }
        if (!r.stats.keySet().containsAll(participants)) {
          return;
        }
        if (!r.complete) {
          r.complete = true;
          r.completedNanos = nanoTime.getAsLong();
          r.timeout.cancel(false); // complete: a hold may delay its decision, the timeout must not fail it
        }
        if (held.contains(step)) {
          return; // decided by release(step)
        }
        outcome = decide(step, r);
      }
    }
    outcome.answer();
  }

  /**
   * Holds {@code step}: from now on a round of it that completes is kept, not decided, until
   * {@link #release}. {@code choose} runs under this barrier's lock, where no decision can be in
   * progress, so that what it reads of the decided steps stays true until the hold is in place; it
   * returns the step to hold or throws to refuse.
   */
  public long hold(LongSupplier choose) {
    synchronized (this) {
      long step = choose.getAsLong();
      held.add(step);
      return step;
    }
  }

  /**
   * Stops waiting for {@code worker}, declared dead (the copies of its shards on other workers report
   * them), and refuses its reports from now on, with {@code why}. A round every remaining participant
   * has reported is decided now (or kept, when held).
   */
  public void removeParticipant(String worker, String why) {
    List<Outcome> outcomes = new ArrayList<>();
    synchronized (this) {
      removed.put(worker, why);
      if (!participants.remove(worker)) {
        return;
      }
      for (Long step : new ArrayList<>(rounds.keySet())) {
        Round r = rounds.get(step);
        r.stats.remove(worker);
        r.generations.remove(worker);
        if (r.complete || r.stats.isEmpty() || !r.stats.keySet().containsAll(participants)) {
          continue;
        }
        r.complete = true;
        r.completedNanos = nanoTime.getAsLong();
        r.timeout.cancel(false);
        if (!held.contains(step)) {
          outcomes.add(decide(step, r));
        }
      }
    }
    outcomes.forEach(Outcome::answer);
  }

  /**
   * From now on every step also waits for {@code worker} (a new copy of shards, re-replicated at a
   * step boundary that no round in progress has reached: the copies' sources hold its pushes).
   *
   * @throws IllegalStateException for a worker removed before (fenced: it never comes back)
   */
  public void addParticipant(String worker) {
    synchronized (this) {
      if (removed.containsKey(worker)) {
        throw new IllegalStateException(worker + " was removed from " + model + "'s barrier: " + removed.get(worker));
      }
      participants.add(worker);
    }
  }

  /**
   * Why {@code worker} is fenced off this model, as its reports are refused ("workers/w2 is fenced off
   * models/m: ..."), or null when it was never removed: the heartbeat's answer tells a worker back
   * from a partition, before it reports a step.
   */
  public synchronized String fencedReason(String worker) {
    return removed.containsKey(worker) ? fencing(worker) : null;
  }

  private String fencing(String worker) {
    return worker + " is fenced off " + model + ": " + removed.get(worker) + "; it must drop its shards of the model";
  }

  /** Whether {@code worker} was removed ({@link #removeParticipant}): it never takes part again. */
  public synchronized boolean removed(String worker) {
    return removed.containsKey(worker);
  }

  /** The workers whose reports a step waits for. */
  public synchronized Set<String> participants() {
    return Set.copyOf(participants);
  }

  /** Answers retried reports of {@code d}'s step with it: a decision a restarted coordinator had sent. */
  public synchronized void remember(DecidedStep d) {
    recent.put(d.step(), d);
  }

  /** Ends a hold; a round of the step that completed meanwhile is decided now, and its reports answered. */
  public void release(long step) {
    Outcome outcome;
    synchronized (this) {
      held.remove(step);
      Round r = rounds.get(step);
      if (r == null || !r.complete) {
        return;
      }
      outcome = decide(step, r);
    }
    outcome.answer();
  }

  /** A complete round's decision (or error), under this barrier's lock; the replies are answered outside it. */
  private Outcome decide(long step, Round r) {
    rounds.remove(step);
    List<BlockStatistics> all;
    try {
      all = ReplicaStatistics.merge(r.stats);
    } catch (ReplicaStatistics.DivergedException e) {
      failure = new ApiException(io.grpc.Status.Code.INTERNAL, "step " + step + " of " + model + ": " + e.getMessage()
          + "; the model is stopped (restore it from a checkpoint)", e);
      return new Outcome(r.replies, null, failure);
    }
    // The wait for the workers, not the hold: the hold is the snapshot's, reported with it.
    double waitMillis = (r.completedNanos - r.startedNanos) / 1e6;
    try {
      DecidedStep decision = decide.apply(new CompletedRound(step, Map.copyOf(r.generations), all, waitMillis, r.startedNanos));
      recent.put(step, decision);
      return new Outcome(r.replies, decision, null);
    } catch (ApiException e) {
      return new Outcome(r.replies, null, e);
    } catch (RuntimeException e) {
      return new Outcome(r.replies, null,
          ApiException.unavailable("step " + step + " of " + model + " could not be decided: " + e));
    }
  }

  /** How the reports of a round are answered: a decision or an error, once outside the lock. */
  private record Outcome(List<Reply> replies, DecidedStep decision, ApiException error) {
    void answer() {
      for (Reply r : replies) {
        if (error != null) {
          r.failed(error);
        } else {
          r.decided(decision);
        }
      }
    }
  }

  private void expire(long step) {
    Round r;
    ApiException e;
    synchronized (this) {
      r = rounds.get(step);
      if (r == null || r.complete) {
        return; // decided, or complete and held: a hold never times a round out
      }
      rounds.remove(step);
      Set<String> missing = new TreeSet<>(participants);
      missing.removeAll(r.stats.keySet());
      e = onTimeout.apply(step, missing);
      failure = e;
      for (Round other : rounds.values()) {
        other.timeout.cancel(false);
      }
    }
    r.replies.forEach(x -> x.failed(e));
    List<Round> rest;
    synchronized (this) {
      rest = new ArrayList<>(rounds.values());
      rounds.clear();
    }
    for (Round o : rest) {
      o.replies.forEach(x -> x.failed(e));
    }
  }

  /** Fails every waiting report (the model was deleted). */
  public void close(ApiException reason) {
    List<Round> rest;
    synchronized (this) {
      failure = reason;
      rest = new ArrayList<>(rounds.values());
      rounds.clear();
    }
    for (Round o : rest) {
      o.timeout.cancel(false);
      o.replies.forEach(x -> x.failed(reason));
    }
  }
}
