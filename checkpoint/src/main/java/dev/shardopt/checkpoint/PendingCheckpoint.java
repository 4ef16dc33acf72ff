package dev.shardopt.checkpoint;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Objects;

/**
 * A checkpoint being written: its attempt directory (where the workers write, see {@link ShardWriter}), the
 * directory it will have once committed, its step and its files. Made by {@link CheckpointLayout#create};
 * finished by {@link ManifestWriter#commit} or given up by {@link #abort}.
 */
public final class PendingCheckpoint {

  private final Path root;
  private final Path dir;
  private final long step;
  private final CheckpointPlan plan;

  PendingCheckpoint(Path root, Path dir, long step, CheckpointPlan plan) {
    this.root = root;
    this.dir = dir;
    this.step = step;
    this.plan = Objects.requireNonNull(plan, "plan");
  }

  /**
   * The pending checkpoint in the attempt directory {@code dir} (a {@code step-<s>.partial-<hex>} made by
   * {@link CheckpointLayout#create}), e.g. for a coordinator that passed the path to its workers.
   */
  public static PendingCheckpoint at(Path dir, CheckpointPlan plan) {
    String n = dir.getFileName() == null ? "" : dir.getFileName().toString();
    if (!CheckpointLayout.isAttemptDir(n)) {
      throw new IllegalArgumentException(dir + " is not a checkpoint attempt directory (step-<s>.partial-<hex>)");
    }
    long step = Long.parseLong(n.substring("step-".length(), "step-".length() + 10));
    Path parent = dir.toAbsolutePath().getParent();
    return new PendingCheckpoint(parent, dir, step, plan);
  }

  /** The checkpoint root (the parent of every step directory). */
  public Path root() {
    return root;
  }

  /** The attempt directory, where the files are written: give this to the workers. */
  public Path dir() {
    return dir;
  }

  /** The directory once committed: {@code root/step-<s>}. */
  public Path finalDir() {
    return root.resolve(CheckpointLayout.stepDirName(step));
  }

  public long step() {
    return step;
  }

  public CheckpointPlan plan() {
    return plan;
  }

  /** Deletes the attempt directory and all it holds (the checkpoint failed). */
  public void abort() throws IOException {
    Io.deleteRecursively(dir);
  }

  @Override
  public String toString() {
    return "PendingCheckpoint[" + dir + ", step " + step + ", " + plan.files().size() + " files]";
  }
}
