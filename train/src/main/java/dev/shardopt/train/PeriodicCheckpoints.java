package dev.shardopt.train;

import dev.shardopt.checkpoint.CheckpointLayout;
import dev.shardopt.checkpoint.Manifests;
import dev.shardopt.client.CheckpointInfo;
import dev.shardopt.client.RemoteModel;
import dev.shardopt.client.ShardoptException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.TreeSet;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * Checkpoints of a training run every {@code every} steps and after the last, each with its
 * {@link TrainerState}, taken by one background thread while the trainers go on.
 *
 * <p><b>How training waits as little as it can.</b> The thread asks for the checkpoint at the next due
 * boundary {@code b} ({@link RemoteModel#checkpoint(Path, long)}) ahead of the trainers: the coordinator
 * then holds only step {@code b}'s decision until every worker has copied its shards into the checkpoint's
 * files (the page cache), and the workers force them to disk in the background while training goes on. When the call returns (the manifest is
 * written), the thread writes the trainers' state of {@code b}, which each trainer copied when it finished
 * step {@code b-1}, deletes the checkpoints beyond the {@code keep} newest, and asks for the next one.
 *
 * <p><b>Never two at once: back-pressure.</b> A trainer pushes step {@code b-1} only once the request for
 * {@code b} is on its way ({@link #atBoundary}), which is once the previous checkpoint is complete. A
 * checkpoint that takes longer than {@code every} steps therefore holds training at the next boundary
 * rather than being skipped; the request also arrives a whole step before the coordinator could decide
 * step {@code b}. An intermediate checkpoint that fails is reported in one line and training goes on; the
 * final one failing fails the run ({@link #finish}).
 */
public final class PeriodicCheckpoints {

  /**
   * @param dir   the checkpoint root: {@code dir/step-<s>} and {@code dir/trainer-state/step-<s>.txt}
   * @param every a checkpoint every this many steps (a multiple of the pipeline's accumulate), or 0 for
   *              only the final one
   * @param keep  the complete checkpoints to keep, the newest; at least 1
   * @param log   gets one line per checkpoint, failure or deletion
   */
  public record Policy(Path dir, int every, int keep, Consumer<String> log) {
    public Policy {
      Objects.requireNonNull(dir, "dir");
      Objects.requireNonNull(log, "log");
      if (every < 0 || keep < 1) {
        throw new IllegalArgumentException("every must be >= 0 and keep >= 1, got " + every + " and " + keep);
      }
    }
  }

  /** A checkpoint to resume from and its trainer state. */
  public record Resumable(Path checkpoint, TrainerState state) {}

  /** Builds step {@code b}'s trainer state from the trainers' statistics copied at {@code b}. */
  interface StateSource {
    TrainerState at(long step, List<BatchNormStatistics> statistics) throws InterruptedException;
  }

  private final RemoteModel model;
  private final Policy policy;
  private final int trainers;
  private final StateSource source;
  private final TreeSet<Long> due = new TreeSet<>();
  private final Map<Long, BatchNormStatistics[]> copies = new HashMap<>();
  private final Thread thread;
  private long issued = -1;
  private boolean stopped;
  private RuntimeException finalFailure;
  private int taken;
  private long waitedNanos;

  PeriodicCheckpoints(RemoteModel model, Policy policy, int trainers, long start, long steps, StateSource source) {
    this.model = model;
    this.policy = policy;
    this.trainers = trainers;
    this.source = source;
    for (long b = start + 1; b <= steps; b++) {
      if (policy.every() > 0 && b % policy.every() == 0) {
        due.add(b);
      }
    }
    if (!isResumable(policy.dir(), steps)) {
      due.add(steps); // the final step, unless a resumed run starts there and it is already written
    }
    thread = new Thread(this::runAll, "shardopt-checkpointer");
    thread.setDaemon(true);
  }

  void start() {
    thread.start();
  }

  /**
   * Called by trainer {@code rank} when it has computed step {@code boundary - 1} and before it pushes
   * it: keeps a copy of its statistics if a checkpoint is due at {@code boundary}, and waits until that
   * checkpoint's request is on its way (back-pressure; see the class comment).
   */
  void atBoundary(long boundary, int rank, BatchNormStatistics stats) throws InterruptedException {
    synchronized (this) {
      if (!due.contains(boundary)) {
        return;
      }
      copies.computeIfAbsent(boundary, b -> new BatchNormStatistics[trainers])[rank] = stats.copy();
      notifyAll();
      long t0 = System.nanoTime();
      while (issued < boundary && !stopped && boundary != due.last()) {
        wait();
      }
      if (rank == 0) {
        waitedNanos += System.nanoTime() - t0;
      }
    }
  }

  private void runAll() {
    for (long b : List.copyOf(due)) {
      synchronized (this) {
        if (stopped) {
          return;
        }
        issued = b;
        notifyAll();
      }
      try {
        take(b);
      } catch (InterruptedException e) {
        return;
      } catch (RuntimeException e) {
        String why = e instanceof ShardoptException se && se.serverMessage() != null ? se.serverMessage()
            : e.getMessage() != null ? e.getMessage() : e.toString();
        if (b == due.last()) {
          synchronized (this) {
            finalFailure = new IllegalStateException("the final checkpoint, at step " + b + " into "
                + policy.dir() + ", failed: " + why, e);
          }
          return;
        }
        policy.log().accept("checkpoint at step " + b + " failed, training goes on: " + why);
      }
    }
  }

  private void take(long b) throws InterruptedException {
    CheckpointInfo info = model.checkpoint(policy.dir(), b);
    BatchNormStatistics[] stats;
    synchronized (this) {
      while ((stats = copies.get(b)) == null || java.util.Arrays.asList(stats).contains(null)) {
        wait(); // every trainer copied them before pushing step b-1, i.e. before the model reached b
      }
      copies.remove(b);
    }
    try {
      source.at(b, List.of(stats)).write(TrainerState.file(policy.dir(), b));
    } catch (IOException e) {
      throw new UncheckedIOException("writing the trainer state of step " + b + ": " + e.getMessage(), e);
    }
    synchronized (this) {
      taken++;
    }
    // the request goes out ahead of the trainers: its times include the wait for them to reach step b
    policy.log().accept(String.format(Locale.ROOT, "checkpoint %s: %.1f MB, complete %.0f ms after the request",
        Path.of(info.path()).getFileName(), info.bytes() / 1e6, info.totalMillis()));
    prune(policy.dir(), policy.keep(), policy.log());
  }

  /** Waits until every checkpoint is written; rethrows the final one's failure. */
  void finish() throws InterruptedException {
    thread.join();
    synchronized (this) {
      if (finalFailure != null) {
        throw finalFailure;
      }
      policy.log().accept(String.format(Locale.ROOT, "checkpoints: %d written; trainer 0 waited %.0f ms for the"
          + " previous one to complete (back-pressure)", taken, waitedNanos / 1e6));
    }
  }

  /** Stops after a failed run: no more checkpoints, and no trainer waits for one. */
  void abort() {
    synchronized (this) {
      stopped = true;
      notifyAll();
    }
    thread.interrupt();
  }

  // ------------------------------------------------------------------ the directory

  /** The steps of the complete checkpoints ({@code step-<s>} with a manifest) under {@code root}, newest first. */
  static List<Long> completeSteps(Path root) {
    if (!Files.isDirectory(root)) {
      return List.of();
    }
    List<Long> steps = new ArrayList<>();
    try (Stream<Path> s = Files.list(root)) {
      s.forEach(p -> {
        OptionalLong step = CheckpointLayout.stepOf(p.getFileName().toString());
        if (step.isPresent() && Files.exists(p.resolve(Manifests.FILE_NAME))) {
          steps.add(step.getAsLong());
        }
      });
    } catch (IOException e) {
      throw new UncheckedIOException("listing " + root + ": " + e.getMessage(), e);
    }
    steps.sort(Comparator.reverseOrder());
    return steps;
  }

  private static boolean isResumable(Path root, long step) {
    return completeSteps(root).contains(step) && Files.exists(TrainerState.file(root, step));
  }

  /**
   * The checkpoint to resume from at {@code path}: that checkpoint ({@code .../step-<s>}), which must have
   * its trainer state, or the latest complete checkpoint under {@code path} that has one.
   *
   * @throws NotResumableException when there is none, naming what was found
   */
  public static Resumable findResumable(Path path) {
    Path abs = path.toAbsolutePath().normalize();
    OptionalLong named = abs.getFileName() == null ? OptionalLong.empty()
        : CheckpointLayout.stepOf(abs.getFileName().toString());
    List<Path> candidates = new ArrayList<>();
    if (named.isPresent()) {
      if (!Files.exists(abs.resolve(Manifests.FILE_NAME))) {
        throw new NotResumableException("--resume " + path + " is not a complete checkpoint (it has no "
            + Manifests.FILE_NAME + ")");
      }
      candidates.add(abs);
    } else {
      if (!Files.isDirectory(abs)) {
        throw new NotResumableException("--resume " + path + ": no such directory");
      }
      completeSteps(abs).forEach(s -> candidates.add(abs.resolve(CheckpointLayout.stepDirName(s))));
    }
    for (Path c : candidates) {
      Path state = TrainerState.file(c.getParent(), CheckpointLayout.stepOf(c.getFileName().toString()).getAsLong());
      if (!Files.exists(state)) {
        continue;
      }
      try {
        return new Resumable(c, TrainerState.read(state));
      } catch (IOException | RuntimeException e) {
        throw new NotResumableException("--resume " + path + ": the trainer state " + state + " cannot be read: "
            + e.getMessage(), e);
      }
    }
    throw new NotResumableException("--resume " + path + ": " + (named.isPresent()
        ? "the checkpoint has no trainer state (" + TrainerState.DIR_NAME + "/" + TrainerState.file(abs,
            named.getAsLong()).getFileName() + " next to it), so it is not resumable"
        : candidates.isEmpty() ? "no complete checkpoint (step-NNNNNNNNNN with a " + Manifests.FILE_NAME + ") in it"
        : "none of its " + candidates.size() + " complete checkpoints has its trainer state, so none is resumable"));
  }

  /**
   * Readies {@code root} for a run that starts at step {@code start}: a fresh run ({@code start} 0) needs
   * a directory without checkpoints; a resumed run replaces the checkpoints after {@code start} (they are
   * of the run it continues, which it will write again, bitwise).
   */
  static void prepare(Path root, long start, Consumer<String> log) {
    List<Long> steps = completeSteps(root);
    if (start == 0 && !steps.isEmpty()) {
      throw new NotResumableException("--checkpoint-dir " + root + " already holds checkpoints (the latest "
          + CheckpointLayout.stepDirName(steps.get(0)) + "): continue that run with --resume " + root
          + ", or choose an empty directory");
    }
    for (long s : steps) {
      if (s > start) {
        log.accept("replacing checkpoint " + CheckpointLayout.stepDirName(s) + " of the run this one continues");
        delete(root, s);
      }
    }
    try {
      Files.createDirectories(root);
    } catch (IOException e) {
      throw new NotResumableException("--checkpoint-dir " + root + " cannot be created: " + e.getMessage(), e);
    }
  }

  /** Deletes the complete checkpoints beyond the {@code keep} newest, never the newest. */
  static void prune(Path root, int keep, Consumer<String> log) {
    List<Long> steps = completeSteps(root);
    for (long s : steps.subList(Math.min(Math.max(keep, 1), steps.size()), steps.size())) {
      delete(root, s);
      log.accept("deleted checkpoint " + CheckpointLayout.stepDirName(s) + " (--keep " + keep + ")");
    }
  }

  /**
   * Deletes checkpoint {@code step} and its trainer state. The directory is first renamed to an attempt's
   * name, so a crash meanwhile leaves something every reader skips, never a checkpoint missing files.
   */
  private static void delete(Path root, long step) {
    Path dir = root.resolve(CheckpointLayout.stepDirName(step));
    Path doomed = root.resolve(CheckpointLayout.stepDirName(step) + ".partial-"
        + String.format("%08x", ThreadLocalRandom.current().nextInt()));
    try {
      Files.deleteIfExists(TrainerState.file(root, step));
      Files.move(dir, doomed, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
      try (Stream<Path> s = Files.walk(doomed)) {
        for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
          Files.delete(p);
        }
      }
    } catch (NoSuchFileException e) {
      // deleted meanwhile
    } catch (IOException e) {
      throw new UncheckedIOException("deleting checkpoint " + dir + ": " + e.getMessage(), e);
    }
  }
}
