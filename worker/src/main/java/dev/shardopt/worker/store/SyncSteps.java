package dev.shardopt.worker.store;

import dev.shardopt.engine.UpdateDecision;
import dev.shardopt.rpc.ApiException;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * The synchronous protocol: pushes for step {@code s} are collected until all K trainers have sent
 * theirs; the step then runs on the model's step executor, in step order, under the pipeline
 * generation in force at {@code s}, through the coordinator's barrier, while pushes for {@code s + 1}
 * may already be collected.
 *
 * <p>Re-replication ({@link #holdFrom}, {@link #endHold}): while the shards are copied at step
 * boundary {@code b}, pushes of step {@code b} and later wait, unadmitted, so that the copy and this
 * worker see the same pushes from {@code b} on; the hold ends with the shard map's new epoch, and
 * from then on a push sent by an older map is refused with UNAVAILABLE (its trainer reads the map,
 * which lists the new copy, and pushes to every copy).
 */
final class SyncSteps implements PushProtocol {
  private final int trainers;
  private final PipelineTimeline timeline;
  private final StepCoordinator coordinator;
  private final Executor stepExecutor;

  private final ProtocolParts parts;
  private final Object lock = new Object();
  // ---- guarded by lock
  private long collecting;
  private final TreeMap<Long, float[][][]> pending = new TreeMap<>();
  /** The shard map epoch taken at the last copy's commit: pushes by an older map are refused. */
  private long epoch;
  /** Pushes of this step and later wait in {@link #held} (a copy is being taken); -1 when none. */
  private long holdFrom = -1;
  private final List<HeldPush> held = new ArrayList<>();
  private ScheduledFuture<?> holdExpiry;
  /**
   * The last hold, when a commit ended it: its step and the epoch taken (-1 when none, or when it
   * ended otherwise). A coordinator restarted mid-commit repeats the commit; this answers it as done.
   */
  private long committedStep = -1;
  private long committedEpoch = -1;

  private record HeldPush(GradientPush push, long waitMillis, CompletableFuture<PushAck> ack) {}

  /** @param firstStep the first step to collect (0, or a restored model's checkpoint step) */
  SyncSteps(ProtocolParts parts, int trainers, PipelineTimeline timeline, StepCoordinator coordinator,
      Executor stepExecutor, long firstStep) {
    this.parts = parts;
    this.collecting = firstStep;
    this.trainers = trainers;
    this.timeline = timeline;
    this.coordinator = coordinator;
    this.stepExecutor = stepExecutor;
    parts.lifecycle().onEnd(this::failHeld);
  }

  @Override
  public CompletableFuture<PushAck> push(GradientPush p, long waitMillis) {
    synchronized (lock) {
      parts.receive();
    }
    return offer(p, waitMillis);
  }

  private CompletableFuture<PushAck> offer(GradientPush p, long waitMillis) {
    synchronized (lock) {
      parts.lifecycle().check();
      PushAck known = duplicateOrRefused(p);
      if (known != null) {
        return CompletableFuture.completedFuture(known);
      }
      CompletableFuture<PushAck> waiting = heldOrStale(p, waitMillis);
      if (waiting != null) {
        return waiting;
      }
    }
    parts.admission().admit(p); // outside the lock: it may ask the coordinator for the schedule
    float[][][] ready = null;
    synchronized (lock) {
      parts.lifecycle().check();
      PushAck known = duplicateOrRefused(p); // the same push may have raced in on another stream
      if (known != null) {
        return CompletableFuture.completedFuture(known);
      }
      CompletableFuture<PushAck> waiting = heldOrStale(p, waitMillis); // a hold may have begun meanwhile
      if (waiting != null) {
        return waiting;
      }
      parts.ledger().record(p.trainer(), p.step(), p.checksum());
      float[][][] step = pending.computeIfAbsent(p.step(), s -> new float[trainers][][]);
      step[p.trainer()] = p.gradient();
      if (parts.ledger().slowest() > p.step()) {
        ready = step;
        collecting++;
      }
    }
    if (ready != null) {
      float[][][] run = ready;
      stepExecutor.execute(() -> run(p.step(), run));
    }
    return CompletableFuture.completedFuture(new PushAck(p.step(), false, parts.shards().version()));
  }

  /**
   * Under the lock: refuses a push sent by a shard map older than the epoch taken, and keeps one of
   * a held step waiting (its future); null when it may go on.
   */
  private CompletableFuture<PushAck> heldOrStale(GradientPush p, long waitMillis) {
    if (p.epoch() < epoch) {
      throw ApiException.unavailable("trainer " + p.trainer() + " pushed step " + p.step() + " of " + parts.model()
          + " by shard map epoch " + p.epoch() + ", but the map is at epoch " + epoch + " (a copy of these shards was"
          + " added); read the shard map again and push to every copy it lists");
    }
    if (holdFrom >= 0 && p.step() >= holdFrom) {
      CompletableFuture<PushAck> ack = new CompletableFuture<>();
      held.add(new HeldPush(p, waitMillis, ack));
      return ack;
    }
    return null;
  }

  /**
   * Holds the pushes of {@code step} and later (they wait, unadmitted) until {@link #endHold}, or
   * for {@code waitMillis}, when the hold ends by itself as if nothing had happened.
   *
   * <p>A hold still in force is one its coordinator never ended: a coordinator copies one model at a
   * time and commits or aborts each copy before it plans the next, so the hold's coordinator was
   * killed or restarted mid-copy (or its abort never arrived). The new copy takes it over: at the
   * same step the held pushes stay held (nothing of the step was admitted since); at another, the
   * old hold ends as an abort would end it, its pushes admitted as they are, before the new one is
   * taken. Without this, the restarted coordinator's copies were refused until the old hold
   * expired ({@code waitMillis}), and the trainers of the held step waited all that time.
   *
   * @throws ApiException FAILED_PRECONDITION when a push of {@code step} or later is admitted already
   */
  void holdFrom(long step, long waitMillis, ScheduledExecutorService timer) {
    long stale;
    synchronized (lock) {
      parts.lifecycle().check();
      stale = holdFrom;
      if (stale == step) {
        holdExpiry.cancel(false);
        holdExpiry = timer.schedule(() -> endHold(step, -1), waitMillis, TimeUnit.MILLISECONDS);
        return;
      }
    }
    if (stale >= 0) {
      endHold(stale, -1);
    }
    synchronized (lock) {
      if (holdFrom >= 0) { // another copy took a hold meanwhile: only one at a time
        throw ApiException.failedPrecondition(parts.model() + " is being copied already on this worker (its pushes"
            + " from step " + holdFrom + " on wait)");
      }
      if (collecting > step || pending.ceilingKey(step) != null) {
        throw ApiException.failedPrecondition(parts.model() + " has admitted pushes of step " + collecting + " on this"
            + " worker; a copy at step " + step + " must begin before its first push: choose a later step");
      }
      holdFrom = step;
      committedStep = -1;
      holdExpiry = timer.schedule(() -> endHold(step, -1), waitMillis, TimeUnit.MILLISECONDS);
    }
  }

  /**
   * Ends the hold on {@code step}, taking the shard map's {@code newEpoch} first (when it is newer):
   * the held pushes are then offered again, so one sent by an older map is refused.
   *
   * @return whether the hold on {@code step} was still in force, or (a commit, {@code newEpoch} >= 0)
   *     was the last hold and ended by this same commit already: no push of the step was admitted
   *     by an older map either way
   */
  boolean endHold(long step, long newEpoch) {
    List<HeldPush> release;
    synchronized (lock) {
      if (holdFrom != step) {
        return newEpoch >= 0 && committedStep == step && committedEpoch == newEpoch;
      }
      holdFrom = -1;
      holdExpiry.cancel(false);
      epoch = Math.max(epoch, newEpoch);
      if (newEpoch >= 0) {
        committedStep = step;
        committedEpoch = newEpoch;
      }
      release = new ArrayList<>(held);
      held.clear();
    }
    for (HeldPush h : release) {
      CompletableFuture<PushAck> ack;
      try {
        ack = offer(h.push(), h.waitMillis());
      } catch (RuntimeException e) {
        ack = CompletableFuture.failedFuture(e);
      }
      ack.whenComplete((a, e) -> {
        if (e != null) {
          h.ack().completeExceptionally(e);
        } else {
          h.ack().complete(a);
        }
      });
    }
    return true;
  }

  /** Takes the shard map's {@code newEpoch} (a new copy's commit): pushes by an older map are refused. */
  void takeEpoch(long newEpoch) {
    synchronized (lock) {
      epoch = Math.max(epoch, newEpoch);
    }
  }

  /** The model failed or was dropped: the held pushes fail as every later call does. */
  private void failHeld(ApiException reason) {
    List<HeldPush> failed;
    synchronized (lock) {
      failed = new ArrayList<>(held);
      held.clear();
      if (holdExpiry != null) {
        holdExpiry.cancel(false);
      }
      holdFrom = -1;
    }
    failed.forEach(h -> h.ack().completeExceptionally(reason));
  }

  /** A duplicate's ack, null for a new push of the collecting step; anything else is refused. */
  private PushAck duplicateOrRefused(GradientPush p) {
    PushAck duplicate = parts.duplicateAck(p);
    if (duplicate != null) {
      return duplicate;
    }
    if (p.step() != collecting) {
      throw ApiException.failedPrecondition("trainer " + p.trainer() + " pushed step " + p.step() + ", but " + parts.model()
          + " is collecting step " + collecting + " (completed " + parts.shards().version() + "); pull, then push step " + collecting);
    }
    return null;
  }

  private void run(long step, float[][][] gradients) {
    try {
      PipelineTimeline.Generation at = timeline.at(step);
      ModelShards.Prepared prepared = parts.shards().prepare(at, List.of(gradients));
      UpdateDecision update = null;
      if (prepared.decides()) {
        BarrierDecision d = coordinator.decide(parts.model(), step, at.generation(), prepared.statistics());
        if (d.generation() != at.generation()) {
          throw new IllegalStateException("the coordinator decided it under pipeline generation " + d.generation()
              + ", but this worker prepared it under generation " + at.generation());
        }
        timeline.learn(d.fixedThrough(), d.latestGeneration());
        update = d.update();
      }
      parts.shards().finish(prepared, update);
      synchronized (lock) {
        pending.remove(step);
      }
      for (float[][] g : gradients) {
        parts.pool().release(g);
      }
      parts.completed().advanceTo(parts.shards().version());
    } catch (RuntimeException e) {
      parts.lifecycle().fail("step " + step + " failed: " + e.getMessage());
    }
  }

  @Override
  public String progress() {
    synchronized (lock) {
      return "completed " + parts.shards().version() + ", collecting " + collecting;
    }
  }
}
