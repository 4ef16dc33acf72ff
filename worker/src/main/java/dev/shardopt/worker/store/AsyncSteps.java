package dev.shardopt.worker.store;

import dev.shardopt.rpc.ApiException;
import java.util.concurrent.CompletableFuture;

/**
 * The asynchronous protocol: each push is applied when it arrives, under the pipeline in force at
 * the trainer's own push index, with the trainer's statistics for the decision. With a staleness
 * bound, a trainer more than the bound ahead of the slowest waits (as a registered waiter, not a
 * parked thread) until the slowest catches up.
 */
final class AsyncSteps implements PushProtocol {
  private final String model;
  private final long staleness;
  private final ModelShards shards;
  private final PushLedger ledger;
  private final PushAdmission admission;
  private final VersionWaiters completed;
  private final VersionWaiters slowest;
  private final ModelLifecycle lifecycle;
  private final GradientPool pool;
  private final Object lock = new Object();

  /** @param slowest the slowest trainer's next push index, which SSP waits for */
  AsyncSteps(String model, long staleness, ModelShards shards, PushLedger ledger, PushAdmission admission,
      VersionWaiters completed, VersionWaiters slowest, ModelLifecycle lifecycle, GradientPool pool) {
    this.model = model;
    this.staleness = staleness;
    this.shards = shards;
    this.ledger = ledger;
    this.admission = admission;
    this.completed = completed;
    this.slowest = slowest;
    this.lifecycle = lifecycle;
    this.pool = pool;
  }

  @Override
  public CompletableFuture<PushAck> push(GradientPush p, long waitMillis) {
    synchronized (lock) {
      lifecycle.check();
      ledger.countReceived();
      PushAck known = duplicateOrRefused(p);
      if (known != null) {
        return CompletableFuture.completedFuture(known);
      }
    }
    if (staleness == 0 || p.step() <= ledger.slowest() + staleness) {
      return CompletableFuture.completedFuture(apply(p));
    }
    return slowest.await(p.step() - staleness, waitMillis, () -> ApiException.deadlineExceeded("trainer " + p.trainer()
            + " is at step " + p.step() + ", more than the staleness bound " + staleness
            + " ahead of the slowest trainer (at " + ledger.slowest() + "); it waited " + waitMillis + " ms"))
        .thenApply(reached -> apply(p));
  }

  /** Number of pushes waiting for slower trainers. */
  int waiting() {
    return slowest.waiting();
  }

  private PushAck duplicateOrRefused(GradientPush p) {
    if (ledger.seen(p.trainer(), p.step(), p.checksum()) == PushLedger.Seen.DUPLICATE) {
      ledger.countDuplicate();
      return new PushAck(p.step(), true, shards.version());
    }
    long next = ledger.next(p.trainer());
    if (p.step() != next) {
      throw ApiException.failedPrecondition("trainer " + p.trainer() + " pushed step " + p.step() + ", but its next step on "
          + model + " is " + next + "; pushes of one trainer come in order");
    }
    return null;
  }

  private PushAck apply(GradientPush p) {
    PipelineTimeline.Generation at = admission.admit(p);
    PushAck ack;
    synchronized (shards) { // one push at a time, and the duplicate check with it
      synchronized (lock) {
        lifecycle.check();
        PushAck known = duplicateOrRefused(p);
        if (known != null) {
          return known;
        }
      }
      shards.applyAsync(at, p.gradient(), p.normSquared(), p.nonFinite());
      synchronized (lock) {
        ledger.record(p.trainer(), p.step(), p.checksum());
      }
      ack = new PushAck(p.step(), false, shards.version());
    }
    pool.release(p.gradient()); // applied: the window holds its own copy
    completed.advanceTo(shards.version());
    slowest.advanceTo(ledger.slowest());
    return ack;
  }

  @Override
  public String progress() {
    return "completed " + shards.version();
  }
}
