package dev.shardopt.coordinator;

import dev.shardopt.checkpoint.CheckpointException;
import dev.shardopt.checkpoint.CheckpointLayout;
import dev.shardopt.checkpoint.CheckpointPlan;
import dev.shardopt.checkpoint.FileRange;
import dev.shardopt.checkpoint.ManifestWriter;
import dev.shardopt.checkpoint.PendingCheckpoint;
import dev.shardopt.rpc.ApiException;
import dev.shardopt.v1.Checkpoint;
import dev.shardopt.v1.CheckpointManifest;
import dev.shardopt.v1.PersistShardsResponse;
import io.grpc.Status;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.function.Function;

/**
 * CheckpointModel of a SYNC model: holds a step boundary ({@link ModelRegistry#holdCheckpoint}),
 * creates the checkpoint's files, has every worker snapshot its shards at the boundary (then
 * releases the hold: training waits only for the copies) and write them, and commits the manifest
 * last. A failure fails the checkpoint, never the model: the attempt is deleted, the hold released.
 *
 * <p>The {@code snapshot_millis} reported runs from the hold being taken to its release: it includes
 * the workers waiting for the step in flight to complete up to the boundary (training time, not a
 * stall the checkpoint causes) as well as their in-memory copies (the stall proper). The proto has
 * no separate field for the copy alone; {@code total_millis} covers everything up to the commit.
 */
public final class Checkpointer {
  /** The largest step a checkpoint directory name holds (10 digits). */
  static final long MAX_STEP = 9_999_999_999L;

  private final ModelRegistry models;
  private final WorkerFleet fleet;
  /** Runs the calls to the workers, all of a phase at once. */
  private final Executor calls;
  /** The models with a checkpoint running: one at a time each. */
  private final Set<String> running = ConcurrentHashMap.newKeySet();

  public Checkpointer(ModelRegistry models, WorkerFleet fleet, Executor calls) {
    this.models = models;
    this.fleet = fleet;
    this.calls = calls;
  }

  /**
   * Writes a checkpoint of {@code name} at {@code atStep} (null: the next boundary) under {@code
   * directory} and returns once it is committed.
   */
  public Checkpoint checkpoint(String name, String directory, Long atStep) {
    Path root = directory("directory", directory);
    if (atStep != null && atStep > MAX_STEP) {
      throw ApiException.invalidArgument("at_step " + Long.toUnsignedString(atStep) + " is out of range: a checkpoint's"
          + " step has at most 10 digits (at most " + MAX_STEP + ")");
    }
    long started = System.nanoTime();
    if (!running.add(name)) {
      throw ApiException.failedPrecondition("a checkpoint of " + name + " is already running; wait for it to finish");
    }
    try {
      return write(name, root, atStep, started);
    } finally {
      running.remove(name);
    }
  }

  private Checkpoint write(String name, Path root, Long atStep, long started) {
    ModelRegistry.CheckpointHold hold = models.holdCheckpoint(name, atStep);
    long held = System.nanoTime();
    long step = hold.step();
    PendingCheckpoint pending;
    try {
      pending = CheckpointLayout.create(root, step, CheckpointPlan.of(hold.tensors(), hold.slots()));
    } catch (CheckpointException e) {
      hold.release();
      throw failed(name, step, toApi(e));
    } catch (RuntimeException e) {
      hold.release();
      throw e;
    }
    try {
      CheckpointManifest fields;
      double snapshotMillis;
      try {
        onEvery(hold.workers(), a -> fleet.snapshotShards(a, name, step));
      } finally {
        fields = hold.release();
        snapshotMillis = millisSince(held);
      }
      String path = pending.dir().toString();
      List<FileRange> ranges = new ArrayList<>();
      for (PersistShardsResponse written : onEvery(hold.workers(), a -> fleet.persistShards(a, name, step, path))) {
        written.getRangesList().forEach(r -> ranges.add(FileRange.fromProto(r)));
      }
      Path committed = ManifestWriter.commit(pending, fields, ranges);
      return Checkpoint.newBuilder().setModel(name).setStep(step).setPath(committed.toString())
          .setBytes(ranges.stream().mapToLong(FileRange::length).sum()).setSnapshotMillis(snapshotMillis)
          .setTotalMillis(millisSince(started)).build();
    } catch (CheckpointException e) {
      throw abort(pending, failed(name, step, toApi(e)));
    } catch (ApiException e) {
      throw abort(pending, failed(name, step, e));
    } catch (RuntimeException e) {
      throw abort(pending, failed(name, step, new ApiException(Status.Code.INTERNAL, e.toString(), e)));
    }
  }

  /**
   * Calls {@code call} on every worker at once; returns their answers in order once all answered,
   * or throws the first failure as soon as it happens (the others are left to finish on their own).
   */
  private <T> List<T> onEvery(List<String> addresses, Function<String, T> call) {
    List<CompletableFuture<T>> answers = addresses.stream()
        .map(a -> CompletableFuture.supplyAsync(() -> call.apply(a), calls)).toList();
    CompletableFuture<Object> firstFailure = new CompletableFuture<>();
    answers.forEach(f -> f.whenComplete((v, e) -> {
      if (e != null) {
        firstFailure.completeExceptionally(e);
      }
    }));
    try {
      CompletableFuture.anyOf(CompletableFuture.allOf(answers.toArray(CompletableFuture[]::new)), firstFailure).join();
    } catch (CompletionException e) {
      Throwable cause = e.getCause();
      throw cause instanceof RuntimeException r ? r : e;
    }
    return answers.stream().map(CompletableFuture::join).toList();
  }

  private static ApiException failed(String name, long step, ApiException e) {
    return new ApiException(e.code(), "checkpoint of " + name + " at step " + step + " failed: " + e.getMessage(), e);
  }

  /** Deletes the attempt; the checkpoint's failure is what the caller hears of. */
  private static ApiException abort(PendingCheckpoint pending, ApiException e) {
    try {
      pending.abort();
    } catch (IOException suppressed) {
      e.addSuppressed(suppressed);
    }
    return e;
  }

  private static double millisSince(long startedNanos) {
    return (System.nanoTime() - startedNanos) / 1e6;
  }

  /**
   * A checkpoint directory that the coordinator and every worker read the same way: an absolute
   * path (a relative one would resolve against each process's own working directory).
   */
  static Path directory(String field, String value) {
    if (value == null || value.isBlank()) {
      throw ApiException.invalidArgument(field + " is empty; give an absolute directory every worker can reach");
    }
    Path p;
    try {
      p = Path.of(value);
    } catch (java.nio.file.InvalidPathException e) {
      throw ApiException.invalidArgument(field + " '" + value + "' is not a valid path: " + e.getReason());
    }
    if (!p.isAbsolute()) {
      throw ApiException.invalidArgument(field + " '" + value + "' is relative; give an absolute directory every"
          + " worker can reach (each process would resolve a relative one against its own working directory)");
    }
    return p.normalize();
  }

  /** A checkpoint that cannot be written or trusted: the caller's mistake, or the files' state. */
  static ApiException toApi(CheckpointException e) {
    Status.Code code = e.kind().isInvalidArgument() ? Status.Code.INVALID_ARGUMENT
        : e.kind() == CheckpointException.Kind.EXISTS ? Status.Code.ALREADY_EXISTS : Status.Code.FAILED_PRECONDITION;
    return new ApiException(code, e.getMessage(), e);
  }
}
