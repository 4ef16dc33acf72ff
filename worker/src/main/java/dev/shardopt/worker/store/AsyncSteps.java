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
  private final long staleness;
  private final VersionWaiters slowest;
  private final ProtocolParts parts;
  private final Object lock = new Object();

  /** @param slowest the slowest trainer's next push index, which SSP waits for */
  AsyncSteps(ProtocolParts parts, long staleness, VersionWaiters slowest) {
    this.parts = parts;
    this.staleness = staleness;
    this.slowest = slowest;
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
      return CompletableFuture.completedFuture(apply(p));
    }
    return slowest.await(p.step() - staleness, waitMillis, () -> ApiException.deadlineExceeded("trainer " + p.trainer()
            + " is at step " + p.step() + ", more than the staleness bound " + staleness
            + " ahead of the slowest trainer (at " + parts.ledger().slowest() + "); it waited " + waitMillis + " ms"))
        .thenApply(reached -> apply(p));
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

  private PushAck apply(GradientPush p) {
    PipelineTimeline.Generation at = parts.admission().admit(p);
    PushAck ack;
    synchronized (parts.shards()) { // one push at a time, and the duplicate check with it
      synchronized (lock) {
        parts.lifecycle().check();
        PushAck known = duplicateOrRefused(p);
        if (known != null) {
          return known;
        }
      }
      parts.shards().applyAsync(at, p.gradient(), p.normSquared(), p.nonFinite());
      synchronized (lock) {
        parts.ledger().record(p.trainer(), p.step(), p.checksum());
      }
      ack = new PushAck(p.step(), false, parts.shards().version());
    }
    parts.pool().release(p.gradient()); // applied: the window holds its own copy
    parts.completed().advanceTo(parts.shards().version());
    slowest.advanceTo(parts.ledger().slowest());
    return ack;
  }

  @Override
  public String progress() {
    return "completed " + parts.shards().version();
  }
}
