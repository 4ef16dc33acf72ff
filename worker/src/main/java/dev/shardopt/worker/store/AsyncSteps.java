package dev.shardopt.worker.store;

import dev.shardopt.checkpoint.CheckpointException;
import dev.shardopt.rpc.ApiException;
import io.grpc.Status;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The asynchronous protocol: each push is applied when it arrives, under the pipeline in force at
 * the trainer's own push index, with the trainer's statistics for the decision. With a staleness
 * bound, a trainer more than the bound ahead of the slowest waits (as a registered waiter, not a
 * parked thread) until the slowest catches up.
 *
 * <p>A checkpoint's cut ({@link #hold}, {@link #copyAt}): the pushes are held, the coordinator names
 * per trainer r the count p_r of its pushes to capture, and the shards are copied once exactly
 * pushes 0 .. p_r-1 of every trainer r are applied; the held pushes beyond the cut are then
 * applied. See {@link PushHold}.
 */
final class AsyncSteps implements PushProtocol {
  private final long staleness;
  private final VersionWaiters slowest;
  private final ProtocolParts parts;
  private final ScheduledExecutorService timeouts;
  private final Object lock = new Object();
  private final PushHold hold = new PushHold(); // guarded by parts.shards()
  private long holds; // guarded by parts.shards(): holds started, numbering them

  /**
   * @param slowest the slowest trainer's next push index, which SSP waits for
   * @param timeouts ends a checkpoint's hold that is not completed in time
   */
  AsyncSteps(ProtocolParts parts, long staleness, VersionWaiters slowest, ScheduledExecutorService timeouts) {
    this.parts = parts;
    this.staleness = staleness;
    this.slowest = slowest;
    this.timeouts = timeouts;
  }

  @Override
  public CompletableFuture<PushAck> push(GradientPush p, long waitMillis) {
    synchronized (lock) {
      parts.receive();
      PushAck known = duplicateOrRefused(p);
      if (known != null) {
        return CompletableFuture.completedFuture(known);
      }
    }
    if (staleness == 0 || p.step() <= parts.ledger().slowest() + staleness) {
      return apply(p);
    }
    return slowest.await(p.step() - staleness, waitMillis, () -> ApiException.deadlineExceeded("trainer " + p.trainer()
            + " is at step " + p.step() + ", more than the staleness bound " + staleness
            + " ahead of the slowest trainer (at " + parts.ledger().slowest() + "); it waited " + waitMillis + " ms"))
        .thenCompose(reached -> apply(p));
  }

  private PushAck duplicateOrRefused(GradientPush p) {
    PushAck duplicate = parts.duplicateAck(p);
    if (duplicate != null) {
      return duplicate;
    }
    long next = parts.ledger().next(p.trainer());
    if (p.step() != next) {
      throw ApiException.failedPrecondition("trainer " + p.trainer() + " pushed step " + p.step() + ", but its next step on "
          + parts.model() + " is " + next + "; pushes of one trainer come in order");
    }
    return null;
  }

  private CompletableFuture<PushAck> apply(GradientPush p) {
    return apply(p, parts.admission().admit(p));
  }

  /** Applies an admitted push, or holds it while a checkpoint's hold says so. */
  private CompletableFuture<PushAck> apply(GradientPush p, PipelineTimeline.Generation at) {
    PushAck ack;
    PushHold.Ended ended;
    synchronized (parts.shards()) { // one push at a time, and the duplicate check with it
      synchronized (lock) {
        parts.lifecycle().check();
        PushAck known = duplicateOrRefused(p);
        if (known != null) {
          return CompletableFuture.completedFuture(known);
        }
      }
      if (hold.defers(p.trainer(), p.step())) {
        return hold.defer(p, at);
      }
      parts.shards().applyAsync(at, p.gradient(), p.normSquared(), p.nonFinite());
      synchronized (lock) {
        parts.ledger().record(p.trainer(), p.step(), p.checksum());
      }
      ack = new PushAck(p.step(), false, parts.shards().version());
      ended = copyIfAtCut();
    }
    parts.pool().release(p.gradient()); // applied: the window holds its own copy
    parts.completed().advanceTo(parts.shards().version());
    slowest.advanceTo(parts.ledger().slowest());
    finish(ended);
    return CompletableFuture.completedFuture(ack);
  }

  // ------------------------------------------------------------------ a checkpoint's cut

  /**
   * Phase zero of a checkpoint: holds every push not applied yet (until {@link #copyAt} names the
   * cut, or {@code expiryMillis} pass) and answers each trainer's next push index. A hold still on
   * is replaced (its copy fails); its pushes stay held.
   */
  long[] hold(long expiryMillis) {
    long n;
    long[] next;
    PushHold.Ended replaced;
    synchronized (parts.shards()) {
      parts.lifecycle().check();
      n = ++holds;
      replaced = hold.start(n, new ApiException(Status.Code.ABORTED, "a newer checkpoint's hold on the pushes of "
          + parts.model() + " replaced this one"));
      next = parts.ledger().nexts();
    }
    finish(replaced);
    try {
      timeouts.schedule(() -> expire(n, expiryMillis), expiryMillis, TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      end(ApiException.unavailable("the worker is shutting down"));
      throw ApiException.unavailable("the worker is shutting down");
    }
    return next;
  }

  /**
   * Phase one: the cut, per trainer the number of its pushes to capture. Applies the held pushes
   * below it; once every trainer's next push is the cut's, writes the shards into the checkpoint
   * attempt directory {@code dir}, unforced, completes the future with that snapshot (or fails it
   * with an {@link UncheckedIOException} around the write's {@link CheckpointException}), and
   * applies the held pushes beyond the cut.
   *
   * @throws ApiException FAILED_PRECONDITION without a hold, a second time, or when a trainer's
   *     pushes applied are already beyond the cut; INVALID_ARGUMENT for a cut of another length
   */
  CompletableFuture<ShardSnapshot> copyAt(long[] cut, Path dir) {
    CompletableFuture<ShardSnapshot> copy;
    List<PushHold.Held> below;
    PushHold.Ended ended = PushHold.Ended.NOTHING;
    ApiException refused = null;
    synchronized (parts.shards()) {
      parts.lifecycle().check();
      long[] next = parts.ledger().nexts();
      if (cut.length != next.length) {
        throw ApiException.invalidArgument("next_push has " + cut.length + " entries, but " + parts.model() + " has "
            + next.length + " trainers");
      }
      if (hold.number() == 0) {
        throw ApiException.failedPrecondition(parts.model() + " holds no pushes on this worker: HoldPushes first (a"
            + " hold ends by itself when the cut does not follow within the worker's wait)");
      }
      if (hold.cut() != null) {
        throw ApiException.failedPrecondition("the hold on " + parts.model() + " already has its cut "
            + Arrays.toString(hold.cut()));
      }
      for (int r = 0; r < cut.length && refused == null; r++) {
        if (next[r] > cut[r]) {
          refused = ApiException.failedPrecondition("trainer " + r + "'s pushes on " + parts.model() + " are applied"
              + " through push " + (next[r] - 1) + ", beyond the cut " + Arrays.toString(cut) + "; the hold was lost");
        }
      }
      if (refused != null) {
        ended = hold.end(null, refused);
        copy = null;
        below = List.of();
      } else {
        copy = hold.cut(cut, dir);
        below = hold.belowCut();
        ended = copyIfAtCut();
      }
    }
    finish(ended);
    if (refused != null) {
      throw refused;
    }
    for (PushHold.Held h : below) {
      applyHeld(h);
    }
    return copy;
  }

  /** Ends the hold on, if any, without a copy (the checkpoint failed elsewhere, or the model ended). */
  void end(RuntimeException why) {
    PushHold.Ended ended = PushHold.Ended.NOTHING;
    synchronized (parts.shards()) {
      if (hold.number() != 0) {
        ended = hold.end(null, why);
      }
    }
    finish(ended);
  }

  /** Each trainer's next push index: every lower one is applied on this worker. */
  long[] nextPushes() {
    return parts.ledger().nexts();
  }

  private void expire(long n, long millis) {
    PushHold.Ended ended = PushHold.Ended.NOTHING;
    synchronized (parts.shards()) {
      if (hold.number() == n) {
        long[] cut = hold.cut();
        ended = hold.end(null, ApiException.deadlineExceeded("the checkpoint's hold on the pushes of " + parts.model()
            + " ended after " + millis + " ms " + (cut == null ? "before the cut was named"
            : "before the cut " + Arrays.toString(cut) + " was reached (next pushes "
                + Arrays.toString(parts.ledger().nexts()) + "); are all trainers pushing?")));
      }
    }
    finish(ended);
  }

  /** Under the shards monitor: when the pushes applied are exactly the cut's, copies the shards and ends the hold. */
  private PushHold.Ended copyIfAtCut() {
    long[] cut = hold.cut();
    if (cut == null || !Arrays.equals(parts.ledger().nexts(), cut)) {
      return PushHold.Ended.NOTHING;
    }
    long pushes = Arrays.stream(cut).sum();
    try {
      return hold.end(ShardSnapshot.take(parts.shards(), pushes, 1, hold.dir()), null);
    } catch (CheckpointException e) { // the copy fails, the model goes on
      return hold.end(null, new UncheckedIOException(e));
    }
  }

  /** Outside the monitor: delivers the copy (or its failure) and applies the pushes the hold gave back. */
  private void finish(PushHold.Ended ended) {
    ended.completeCopy();
    for (PushHold.Held h : new ArrayList<>(ended.held())) {
      applyHeld(h);
    }
  }

  private void applyHeld(PushHold.Held h) {
    CompletableFuture<PushAck> applied;
    try {
      applied = apply(h.push(), h.at());
    } catch (RuntimeException e) {
      applied = CompletableFuture.failedFuture(e);
    }
    applied.whenComplete((a, e) -> {
      if (e != null) {
        h.ack().completeExceptionally(WorkerModel.unwrap(e));
      } else {
        h.ack().complete(a);
      }
    });
  }

  @Override
  public String progress() {
    return "completed " + parts.shards().version();
  }
}
