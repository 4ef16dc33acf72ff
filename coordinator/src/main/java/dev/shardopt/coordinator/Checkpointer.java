package dev.shardopt.coordinator;

import dev.shardopt.checkpoint.CheckpointException;
import dev.shardopt.checkpoint.CheckpointLayout;
import dev.shardopt.checkpoint.CheckpointPlan;
import dev.shardopt.checkpoint.CheckpointReader;
import dev.shardopt.checkpoint.FileRange;
import dev.shardopt.checkpoint.ManifestWriter;
import dev.shardopt.checkpoint.Manifests;
import dev.shardopt.checkpoint.PendingCheckpoint;
import dev.shardopt.rpc.ApiException;
import dev.shardopt.v1.Checkpoint;
import dev.shardopt.v1.CheckpointManifest;
import dev.shardopt.v1.HoldPushesResponse;
import dev.shardopt.v1.PersistShardsResponse;
import dev.shardopt.v1.SnapshotShardsResponse;
import dev.shardopt.v1.TrainingMode;
import io.grpc.Status;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.function.Function;
import java.util.stream.LongStream;

/**
 * CheckpointModel. Of a SYNC model: holds a step boundary ({@link ModelRegistry#holdCheckpoint}),
 * creates the checkpoint's files, has every worker snapshot its shards at the boundary into them,
 * unforced (then releases the hold: training waits only for these copies into the page cache) and
 * then force them to disk, and commits the manifest last. A failure fails the checkpoint, never the
 * model: the attempt is deleted, the hold released.
 *
 * <p>Of an ASYNC model, at a cut of the trainers' pushes: every worker holds the pushes it has
 * not applied yet and answers each trainer's next push index; the cut is, per trainer, the highest
 * of these (every push below it was sent, so it reaches every worker); every worker applies the
 * held pushes below the cut, copies its shards once it has applied exactly pushes 0 .. cut[r]-1 of
 * each trainer r, and applies the rest. The copies' counters must agree. Then the files are created
 * at step sum(cut), written, and the manifest, with the cut as {@code next_push}, commits last.
 *
 * <p>The {@code snapshot_millis} reported runs from the hold being taken to its release: it includes
 * the workers waiting for the step in flight to complete up to the boundary (training time, not a
 * stall the checkpoint causes) as well as their copies into the files (the stall proper). The proto has
 * no separate field for the copy alone; {@code total_millis} covers everything up to the commit.
 */
public final class Checkpointer {
  private static final Logger log = LoggerFactory.getLogger(Checkpointer.class);
  /** The largest step a checkpoint directory name holds (10 digits). */
  static final long MAX_STEP = 9_999_999_999L;

  private final ModelRegistry models;
  private final WorkerFleet fleet;
  /** Runs the calls to the workers, all of a phase at once. */
  private final Executor calls;
  /** The models with a checkpoint running: one at a time each. */
  private final Set<String> running = ConcurrentHashMap.newKeySet();

  private final CoordinatorObserver observer;

  public Checkpointer(ModelRegistry models, WorkerFleet fleet, Executor calls) {
    this(models, fleet, calls, CoordinatorObserver.NONE);
  }

  /** @param observer told of every checkpoint committed (not of one answered again after a lost answer) */
  public Checkpointer(ModelRegistry models, WorkerFleet fleet, Executor calls, CoordinatorObserver observer) {
    this.observer = observer;
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
    if (models.mode(name) == TrainingMode.ASYNC) {
      return writeAsync(name, root, atStep, started);
    }
    if (atStep != null) { // sent again after its answer was lost (a coordinator restart): the same answer
      Checkpoint earlier = committedByThisRun(name, models.incarnation(name), root, atStep, started);
      if (earlier != null) {
        return earlier;
      }
    }
    ModelRegistry.CheckpointHold hold = models.holdCheckpoint(name, atStep);
    long held = System.nanoTime();
    long step = hold.step();
    PendingCheckpoint pending;
    try {
      pending = CheckpointLayout.create(root, step, CheckpointPlan.of(hold.tensors(), hold.slots()));
    } catch (CheckpointException e) {
      hold.release();
      Checkpoint earlier = e.kind() == CheckpointException.Kind.EXISTS
          ? committedByThisRun(name, hold.incarnation(), root, step, started) : null;
      if (earlier != null) { // no step since it: the model's state is the one it holds
        return earlier;
      }
      throw failed(name, step, toApi(e));
    } catch (RuntimeException e) {
      hold.release();
      throw e;
    }
    CheckpointManifest fields;
    double snapshotMillis;
    List<String> copied;
    try {
      String path = pending.dir().toString();
      try {
        copied = onCopies(hold, a -> fleet.snapshotShards(a, name, step, path));
      } finally {
        fields = hold.release();
        snapshotMillis = millisSince(held);
      }
    } catch (ApiException e) {
      throw abort(pending, failed(name, step, e));
    } catch (RuntimeException e) {
      throw abort(pending, failed(name, step, new ApiException(Status.Code.INTERNAL, e.toString(), e)));
    }
    return persist(name, pending, copied, step, fields, snapshotMillis, started);
  }

  /**
   * Calls {@code call} on every worker holding copies of the model at once and returns those that
   * answered. Of a replicated model, a worker that cannot be reached (UNAVAILABLE, DEADLINE_EXCEEDED:
   * dead, or not yet declared so) is left out when the others hold a copy of each of its ranges;
   * every other failure, or a range left without a copy, fails the checkpoint.
   */
  private List<String> onCopies(ModelRegistry.CheckpointHold hold, Function<String, ?> call) {
    List<String> workers = hold.workers();
    List<CompletableFuture<Object>> answers = workers.stream()
        .map(a -> CompletableFuture.supplyAsync(() -> (Object) call.apply(a), calls)).toList();
    List<String> answered = new ArrayList<>();
    List<String> unreachable = new ArrayList<>();
    RuntimeException firstUnreachable = null;
    RuntimeException firstOther = null;
    for (int i = 0; i < workers.size(); i++) {
      try {
        answers.get(i).join();
        answered.add(workers.get(i));
      } catch (CompletionException e) {
        RuntimeException cause = e.getCause() instanceof RuntimeException r ? r : e;
        if (cause instanceof ApiException api
            && (api.code() == Status.Code.UNAVAILABLE || api.code() == Status.Code.DEADLINE_EXCEEDED)) {
          unreachable.add(workers.get(i));
          firstUnreachable = firstUnreachable == null ? cause : firstUnreachable;
        } else {
          firstOther = firstOther == null ? cause : firstOther;
        }
      }
    }
    if (firstOther != null) {
      throw firstOther;
    }
    if (firstUnreachable != null && !hold.coveredBy(answered)) {
      throw firstUnreachable;
    }
    if (firstUnreachable != null) {
      log.warn("checkpoint of {}: {} did not answer; the copies on {} hold every shard", hold.model(), unreachable,
          answered);
    }
    return answered;
  }

  private Checkpoint writeAsync(String name, Path root, Long atStep, long started) {
    if (atStep != null) {
      throw ApiException.invalidArgument("at_step is for SYNC models: " + name + " is ASYNC, and its checkpoint is"
          + " taken at the cut of the trainers' pushes that the coordinator picks; leave at_step unset");
    }
    ModelRegistry.AsyncCheckpoint model = models.asyncCheckpoint(name);
    List<String> workers = model.workers();
    long held = System.nanoTime();
    long[] cut;
    try {
      cut = cutOf(name, model.trainers(), workers, onEvery(workers, a -> fleet.holdPushes(a, name, false)));
    } catch (RuntimeException e) {
      release(name, workers, e);
      ApiException api = e instanceof ApiException a ? a : new ApiException(Status.Code.INTERNAL, e.toString(), e);
      throw new ApiException(api.code(), "checkpoint of " + name + " failed: " + api.getMessage(), api);
    }
    long step = LongStream.of(cut).sum();
    PendingCheckpoint pending;
    try {
      if (step > MAX_STEP) {
        throw failed(name, step, ApiException.failedPrecondition("the cut " + Arrays.toString(cut) + " captures "
            + step + " pushes; a checkpoint's step has at most 10 digits"));
      }
      // The files exist before the copies: each worker writes its shards straight into them.
      pending = CheckpointLayout.create(root, step, CheckpointPlan.of(model.tensors(), model.slots()));
    } catch (CheckpointException e) {
      ApiException api = failed(name, step, toApi(e));
      release(name, workers, api);
      throw api;
    } catch (RuntimeException e) {
      release(name, workers, e);
      throw e;
    }
    List<SnapshotShardsResponse> copies;
    String path = pending.dir().toString();
    try {
      long[] atCut = cut;
      copies = onEvery(workers, a -> fleet.snapshotAtCut(a, name, atCut, path));
    } catch (RuntimeException e) {
      release(name, workers, e);
      ApiException api = e instanceof ApiException a ? a : new ApiException(Status.Code.INTERNAL, e.toString(), e);
      throw abort(pending, failed(name, step, api));
    }
    double snapshotMillis = millisSince(held);
    SnapshotShardsResponse first = copies.get(0);
    for (int i = 1; i < copies.size(); i++) {
      SnapshotShardsResponse c = copies.get(i);
      if (c.getUpdatesApplied() != first.getUpdatesApplied() || c.getStepsSkipped() != first.getStepsSkipped()) {
        throw abort(pending, failed(name, step, new ApiException(Status.Code.INTERNAL, "the workers' copies at the"
            + " cut " + Arrays.toString(cut) + " disagree: " + workers.get(0) + " has " + first.getUpdatesApplied()
            + " updates applied and " + first.getStepsSkipped() + " skipped, " + workers.get(i) + " "
            + c.getUpdatesApplied() + " and " + c.getStepsSkipped())));
      }
    }
    CheckpointManifest fields = model.manifest(cut, first.getUpdatesApplied(), first.getStepsSkipped());
    Checkpoint written = persist(name, pending, workers, step, fields, snapshotMillis, started);
    return written.toBuilder().addAllNextPush(LongStream.of(cut).boxed().toList()).build();
  }

  /**
   * The complete checkpoint {@code root/step-<step>} when this run of the model ({@code
   * incarnation}) committed it, as CheckpointModel answered it then (less its timings); null when
   * there is none, or it is another run's (the caller then goes on, and a clash is ALREADY_EXISTS).
   * SYNC only: an ASYNC checkpoint of the same step may hold another cut.
   */
  private static Checkpoint committedByThisRun(String name, String incarnation, Path root, long step, long started) {
    Path dir = root.resolve(CheckpointLayout.stepDirName(step));
    if (!Files.isRegularFile(dir.resolve(Manifests.FILE_NAME))) {
      return null;
    }
    CheckpointManifest m;
    try (CheckpointReader r = CheckpointReader.open(dir)) {
      m = r.manifest();
    } catch (IOException e) {
      return null; // not one this run can vouch for; writing it again reports the problem
    }
    if (!m.getModelIncarnation().equals(incarnation) || m.getStep() != step
        || !name.equals("models/" + m.getModelId())) {
      return null;
    }
    long bytes = 0;
    for (CheckpointManifest.File f : m.getFilesList()) {
      bytes += f.getSizeBytes() - f.getDataOffset();
    }
    return Checkpoint.newBuilder().setModel(name).setStep(step).setPath(dir.toString()).setBytes(bytes)
        .setTotalMillis(millisSince(started)).build();
  }

  /**
   * The cut from every worker's next push indices: per trainer, the highest. A trainer sends each
   * push to every worker, and its next only once every worker acknowledged it, so every push below
   * the cut was sent to every worker and reaches it.
   */
  private static long[] cutOf(String name, int trainers, List<String> workers, List<HoldPushesResponse> next) {
    long[] cut = new long[trainers];
    for (int i = 0; i < next.size(); i++) {
      HoldPushesResponse n = next.get(i);
      if (n.getNextPushCount() != trainers) {
        throw new ApiException(Status.Code.INTERNAL, "worker " + workers.get(i) + " answered " + n.getNextPushCount()
            + " next pushes for the " + trainers + " trainers of " + name);
      }
      for (int r = 0; r < trainers; r++) {
        cut[r] = Math.max(cut[r], n.getNextPush(r));
      }
    }
    return cut;
  }

  /** Ends the workers' holds after a failed cut, so that no push waits for the hold to expire (best effort). */
  private void release(String name, List<String> workers, RuntimeException failure) {
    for (String a : workers) {
      try {
        fleet.holdPushes(a, name, true);
      } catch (RuntimeException e) {
        failure.addSuppressed(e); // its hold ends by itself after the worker's wait
      }
    }
  }

  /** Has every worker force its copy in {@code pending} to disk, and commits the manifest; deletes the attempt on failure. */
  private Checkpoint persist(String name, PendingCheckpoint pending, List<String> workers, long step,
      CheckpointManifest fields, double snapshotMillis, long started) {
    try {
      String path = pending.dir().toString();
      List<FileRange> written = new ArrayList<>();
      List<String> writers = new ArrayList<>();
      List<PersistShardsResponse> answers = onEvery(workers, a -> fleet.persistShards(a, name, step, path));
      for (int i = 0; i < answers.size(); i++) {
        for (var r : answers.get(i).getRangesList()) {
          written.add(FileRange.fromProto(r));
          writers.add(workers.get(i));
        }
      }
      List<FileRange> ranges = oncePerRange(name, written, writers);
      Path committed = ManifestWriter.commit(pending, fields, ranges);
      models.checkpointCommitted(name, committed.toString());
      Checkpoint done = Checkpoint.newBuilder().setModel(name).setStep(step).setPath(committed.toString())
          .setBytes(ranges.stream().mapToLong(FileRange::length).sum()).setSnapshotMillis(snapshotMillis)
          .setTotalMillis(millisSince(started)).build();
      observer.checkpointWritten(name, done.getBytes(), done.getTotalMillis() / 1e3);
      return done;
    } catch (CheckpointException e) {
      throw abort(pending, failed(name, step, toApi(e)));
    } catch (ApiException e) {
      throw abort(pending, failed(name, step, e));
    } catch (RuntimeException e) {
      throw abort(pending, failed(name, step, new ApiException(Status.Code.INTERNAL, e.toString(), e)));
    }
  }

  /**
   * Each byte range once: the copies of a replicated model's shard each write the same range of the
   * same file, with the same bytes, which their CRC32Cs must show.
   *
   * @throws ApiException INTERNAL when two copies wrote different bytes
   */
  private static List<FileRange> oncePerRange(String name, List<FileRange> written, List<String> writers) {
    java.util.Map<String, Integer> first = new java.util.HashMap<>();
    List<FileRange> out = new ArrayList<>();
    for (int i = 0; i < written.size(); i++) {
      FileRange r = written.get(i);
      String key = r.path() + "@" + r.offset() + "+" + r.length();
      Integer earlier = first.putIfAbsent(key, i);
      if (earlier == null) {
        out.add(r);
      } else if (written.get(earlier).crc32c() != r.crc32c()) {
        throw new ApiException(Status.Code.INTERNAL, "the copies of " + name + " differ: " + writers.get(earlier)
            + " and " + writers.get(i) + " wrote different bytes into " + r.path() + " at byte " + r.offset());
      }
    }
    return out;
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
