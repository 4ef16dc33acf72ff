package dev.shardopt.worker.store;

import dev.shardopt.checkpoint.CheckpointException;
import dev.shardopt.checkpoint.FileRange;
import dev.shardopt.checkpoint.ShardWriter;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * This worker's shards of a model at an update boundary, written into a checkpoint attempt's files
 * but not yet forced to disk: phase one of a checkpoint ({@link #take}) puts the copy in the page
 * cache, phase two ({@link #persist}) forces it to disk.
 *
 * <p>Why the page cache and not a copy in the heap: the copy has to reach the page cache anyway,
 * and copying there straight from the live arrays (through one small staging buffer) is the only
 * copy, where a heap copy is a second one and needs as much fresh memory as the shards each time.
 * Until {@link #persist}, the bytes are in memory only, as a heap copy would be; a crash loses them
 * and the checkpoint, which has no manifest yet, is recognisably incomplete.
 */
final class ShardSnapshot {
  private final long step;
  private final ModelShards.ShardCounters counters;
  private final Path dir;
  private final ShardWriter writer;
  private final List<FileRange> ranges;

  private ShardSnapshot(long step, ModelShards.ShardCounters counters, Path dir, ShardWriter writer,
      List<FileRange> ranges) {
    this.step = step;
    this.counters = counters;
    this.dir = dir;
    this.writer = writer;
    this.ranges = List.copyOf(ranges);
  }

  /**
   * Writes every shard's parameters and state slots at boundary {@code step} into their files in
   * {@code dir} (a checkpoint attempt directory whose files exist), without forcing them. The
   * caller holds no lock that a step needs; {@code shards}' monitor is held while they are copied.
   *
   * @param k the pipeline's accumulate ({@code step} must be a multiple; 1 for an ASYNC cut)
   *
   * @throws CheckpointException when a file is missing, not as created, or cannot be written; the
   *     files opened are closed
   */
  static ShardSnapshot take(ModelShards shards, long step, int k, Path dir) throws CheckpointException {
    ShardWriter writer = ShardWriter.open(dir);
    List<FileRange> ranges = new ArrayList<>();
    ModelShards.ShardCounters counters;
    try {
      counters = shards.snapshot(step, k, (shard, slot, length, values) ->
          ranges.add(writer.writeUnforced(shard.name(), slot, shard.offset(), length, values)));
    } catch (CheckpointException | RuntimeException e) {
      closeQuietly(writer, e);
      throw e;
    }
    return new ShardSnapshot(step, counters, dir, writer, ranges);
  }

  long step() {
    return step;
  }

  /** The updates applied and steps skipped at the snapshot. */
  ModelShards.ShardCounters counters() {
    return counters;
  }

  Path dir() {
    return dir;
  }

  /** The bytes written. */
  long bytes() {
    return ranges.stream().mapToLong(FileRange::length).sum();
  }

  /**
   * Forces every file written to disk (one fdatasync each, not one per range) and closes them; the
   * ranges written with their CRC32Cs, in order, all on disk when this returns.
   */
  List<FileRange> persist() throws CheckpointException {
    try (writer) {
      writer.force();
    } catch (IOException e) { // closing: the data is already forced
      if (e instanceof CheckpointException c) {
        throw c;
      }
      throw new CheckpointException(CheckpointException.Kind.IO, dir, "cannot close: " + e.getMessage(), e);
    }
    return ranges;
  }

  /** Closes the files without forcing them: the checkpoint was given up. */
  void discard() {
    closeQuietly(writer, null);
  }

  private static void closeQuietly(ShardWriter writer, Exception failure) {
    try {
      writer.close();
    } catch (IOException e) {
      if (failure != null) {
        failure.addSuppressed(e);
      }
    }
  }
}
