package dev.shardopt.worker.store;

import dev.shardopt.checkpoint.CheckpointException;
import dev.shardopt.checkpoint.FileRange;
import dev.shardopt.rpc.ApiException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * One model's checkpoints on this worker, in two phases: {@link #snapshot} writes the shards of a
 * SYNC model into the checkpoint's files once the model reaches the step, unforced, so that the
 * copy lands in the page cache (all that training waits for; see {@link ShardSnapshot}; an ASYNC
 * model's is taken at its cut by {@link AsyncSteps} and {@link #keep kept} here); {@link #persist}
 * forces those files to disk on the worker's checkpoint executor. A snapshot waits for this model's
 * earlier persist to finish ({@link #afterPersist}: back-pressure, at most one checkpoint being
 * forced).
 */
final class CheckpointSnapshots {
  private final String model;
  private final ModelShards shards;
  private final VersionWaiters completed;
  private final ModelLifecycle lifecycle;
  private final WorkerCheckpoints checkpoints;
  private final ScheduledExecutorService timeouts;
  // ---- guarded by this
  private ShardSnapshot taken;
  private boolean ended;
  private CompletableFuture<?> persisting = CompletableFuture.completedFuture(null);
  private long persistingStep = -1;

  CheckpointSnapshots(String model, ModelShards shards, VersionWaiters completed, ModelLifecycle lifecycle,
      WorkerCheckpoints checkpoints, ScheduledExecutorService timeouts) {
    this.model = model;
    this.shards = shards;
    this.completed = completed;
    this.lifecycle = lifecycle;
    this.checkpoints = checkpoints;
    this.timeouts = timeouts;
    lifecycle.onEnd(e -> end());
  }

  /**
   * Writes the shards at update boundary {@code step} into the checkpoint attempt directory {@code
   * dir} once the model has completed it, unforced, and keeps them for {@link #persist} (replacing
   * any earlier snapshot, whose checkpoint was given up). The future holds the bytes written.
   *
   * @param waitMillis how long to wait for an earlier persist, and then for the step
   */
  CompletableFuture<Long> snapshot(long step, Path dir, long waitMillis) {
    try {
      lifecycle.check();
      int k = shards.accumulate();
      if (step % k != 0) {
        throw ApiException.invalidArgument("step " + step + " of " + model + " is not an update boundary: a checkpoint's"
            + " step must be a multiple of the pipeline's accumulate " + k);
      }
      shards.checkNotPassed(step, k);
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
    return afterPersist("the snapshot of step " + step, waitMillis)
        .thenCompose(ignored -> completed.await(step, waitMillis, () -> ApiException.deadlineExceeded(
            "step " + step + " of " + model + " is not complete on " + worker() + " after " + waitMillis
                + " ms (completed " + shards.version() + " steps); are all trainers pushing?")))
        .thenApply(reached -> {
          lifecycle.check();
          ShardSnapshot copy;
          try {
            copy = ShardSnapshot.take(shards, step, shards.accumulate(), dir);
          } catch (CheckpointException e) {
            throw CheckpointStatus.ofWrite(worker(), what(step), e);
          }
          keep(copy);
          lifecycle.check();
          return copy.bytes();
        });
  }

  /**
   * Completes once this model's earlier persist, if any, has finished (however it ended), or fails
   * with DEADLINE_EXCEEDED after {@code waitMillis}: {@code waiting} (for the message) waits for it.
   */
  CompletableFuture<Void> afterPersist(String waiting, long waitMillis) {
    CompletableFuture<?> prior;
    long priorStep;
    synchronized (this) {
      prior = persisting;
      priorStep = persistingStep;
    }
    return within(prior.handle((r, e) -> (Void) null), waitMillis, () -> ApiException.deadlineExceeded(
        worker() + " is still writing the checkpoint of step " + priorStep + " of " + model + " after " + waitMillis
            + " ms; " + waiting + " waits for it"));
  }

  /**
   * Keeps {@code copy} for {@link #persist}, replacing any earlier one (whose checkpoint was given
   * up); after the model ended, discards it instead.
   */
  void keep(ShardSnapshot copy) {
    ShardSnapshot dropped;
    synchronized (this) {
      dropped = ended ? copy : taken;
      if (!ended) {
        taken = copy;
      }
    }
    if (dropped != null) {
      dropped.discard();
    }
  }

  /**
   * Forces the snapshot of {@code step}, written into {@code dir}, to disk on the checkpoint
   * executor, then drops it. The future holds the byte ranges written with their CRC32Cs.
   *
   * @throws ApiException NOT_FOUND (in the future) when no snapshot of {@code step} was taken,
   *     FAILED_PRECONDITION when it was written into another directory
   */
  CompletableFuture<List<FileRange>> persist(long step, Path dir) {
    CompletableFuture<List<FileRange>> written = new CompletableFuture<>();
    ShardSnapshot copy;
    synchronized (this) {
      copy = taken;
      if (copy == null || copy.step() != step) {
        return CompletableFuture.failedFuture(ApiException.notFound("no snapshot of step " + step + " of " + model
            + " on " + worker() + (copy == null ? "" : " (it holds step " + copy.step() + ")")
            + "; call SnapshotShards first"));
      }
      if (!copy.dir().equals(dir)) {
        return CompletableFuture.failedFuture(ApiException.failedPrecondition("the snapshot of step " + step + " of "
            + model + " on " + worker() + " was written into " + copy.dir() + ", not " + dir));
      }
      taken = null;
      persisting = written;
      persistingStep = step;
    }
    try {
      checkpoints.executor().execute(() -> {
        try {
          written.complete(copy.persist());
        } catch (CheckpointException e) {
          written.completeExceptionally(CheckpointStatus.ofWrite(worker(), what(step), e));
        } catch (RuntimeException e) {
          written.completeExceptionally(e);
        }
      });
    } catch (RejectedExecutionException e) {
      copy.discard();
      written.completeExceptionally(ApiException.unavailable(worker() + " is shutting down"));
    }
    return written;
  }

  /** The model failed or was deleted: the snapshot not yet persisted is given up. */
  private void end() {
    ShardSnapshot dropped;
    synchronized (this) {
      ended = true;
      dropped = taken;
      taken = null;
    }
    if (dropped != null) {
      dropped.discard();
    }
  }

  /** The status of a failed write of {@code what} on this worker. */
  ApiException writeFailure(String what, CheckpointException e) {
    return CheckpointStatus.ofWrite(worker(), what, e);
  }

  private String what(long step) {
    return "its shards of the checkpoint of step " + step + " of " + model;
  }

  private String worker() {
    return checkpoints.workerName().get();
  }

  /** {@code f}, or a failure with {@code onTimeout}'s exception after {@code millis}; {@code f} itself is left alone. */
  private <T> CompletableFuture<T> within(CompletableFuture<T> f, long millis, Supplier<RuntimeException> onTimeout) {
    if (f.isDone()) {
      return f;
    }
    CompletableFuture<T> bounded = new CompletableFuture<>();
    ScheduledFuture<?> timer = timeouts.schedule(() -> bounded.completeExceptionally(onTimeout.get()), millis,
        TimeUnit.MILLISECONDS);
    f.whenComplete((v, e) -> {
      timer.cancel(false);
      if (e != null) {
        bounded.completeExceptionally(e);
      } else {
        bounded.complete(v);
      }
    });
    return bounded;
  }
}
