package dev.shardopt.worker.store;

import dev.shardopt.checkpoint.CheckpointException;
import dev.shardopt.checkpoint.FileRange;
import dev.shardopt.checkpoint.ShardWriter;
import dev.shardopt.rpc.ApiException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * One model's checkpoints on this worker, in two phases: {@link #snapshot} copies the shards of a
 * SYNC model in memory once the model reaches the step (all that training waits for; an ASYNC
 * model's copy is taken at its cut by {@link AsyncSteps} and {@link #keep kept} here), {@link
 * #persist} writes the copy into the checkpoint's files on the worker's checkpoint executor and
 * drops it. A snapshot waits for this model's earlier persist to finish ({@link #afterPersist}:
 * back-pressure, at most one copy being written).
 */
final class CheckpointSnapshots {
  private final String model;
  private final ModelShards shards;
  private final VersionWaiters completed;
  private final ModelLifecycle lifecycle;
  private final WorkerCheckpoints checkpoints;
  private final ScheduledExecutorService timeouts;
  // ---- guarded by this
  private final TreeMap<Long, ShardCheckpoint> taken = new TreeMap<>();
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
  }

  /**
   * Copies the shards at update boundary {@code step} once the model has completed it, and keeps
   * the copy for {@link #persist} (replacing any earlier one, whose checkpoint was given up). The
   * future holds the bytes copied.
   *
   * @param waitMillis how long to wait for an earlier persist, and then for the step
   */
  CompletableFuture<Long> snapshot(long step, long waitMillis) {
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
          ShardCheckpoint copy = shards.snapshot(step, shards.accumulate());
          keep(copy);
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

  /** Keeps {@code copy} for {@link #persist}, replacing any earlier one (whose checkpoint was given up). */
  synchronized void keep(ShardCheckpoint copy) {
    taken.clear();
    taken.put(copy.step(), copy);
  }

  /**
   * Writes the snapshot of {@code step} into the checkpoint attempt directory {@code dir} on the
   * checkpoint executor, then drops it. The future holds the byte ranges written with their CRC32Cs.
   *
   * @throws ApiException NOT_FOUND (in the future) when no snapshot of {@code step} was taken
   */
  CompletableFuture<List<FileRange>> persist(long step, Path dir) {
    CompletableFuture<List<FileRange>> written = new CompletableFuture<>();
    ShardCheckpoint copy;
    synchronized (this) {
      copy = taken.remove(step);
      if (copy == null) {
        return CompletableFuture.failedFuture(ApiException.notFound("no snapshot of step " + step + " of " + model
            + " on " + worker() + (taken.isEmpty() ? "" : " (it holds step " + taken.firstKey() + ")")
            + "; call SnapshotShards first"));
      }
      persisting = written;
      persistingStep = step;
    }
    try {
      checkpoints.executor().execute(() -> {
        try {
          written.complete(write(copy, dir));
        } catch (RuntimeException e) {
          written.completeExceptionally(e);
        }
      });
    } catch (RejectedExecutionException e) {
      written.completeExceptionally(ApiException.unavailable(worker() + " is shutting down"));
    }
    return written;
  }

  private List<FileRange> write(ShardCheckpoint copy, Path dir) {
    String what = "its shards of the checkpoint of step " + copy.step() + " of " + model;
    try (ShardWriter writer = ShardWriter.open(dir)) {
      return copy.writeTo(writer);
    } catch (CheckpointException e) {
      throw CheckpointStatus.ofWrite(worker(), what, e);
    } catch (IOException e) { // closing: the data is already forced to disk
      throw CheckpointStatus.ofWrite(worker(), what, new CheckpointException(CheckpointException.Kind.IO, dir,
          "cannot close: " + e.getMessage(), e));
    }
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
