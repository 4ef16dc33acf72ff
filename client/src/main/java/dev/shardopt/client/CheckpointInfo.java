package dev.shardopt.client;

import dev.shardopt.v1.Checkpoint;
import java.util.List;

/**
 * A complete checkpoint, as {@code Coordinator.CheckpointModel} reports it.
 *
 * @param step SYNC: the step boundary captured, the state after that many steps; ASYNC: the
 *     pushes captured, the sum of {@code nextPush}
 * @param path the checkpoint's directory, {@code DIR/step-<s>}, as the coordinator sees it
 * @param bytes bytes of tensor and optimizer state data written
 * @param snapshotMillis how long training was held for the workers' snapshots (their copies of
 *     the shards into the checkpoint's files, not yet forced to disk)
 * @param totalMillis how long the whole checkpoint took, writes and manifest included
 * @param nextPush ASYNC: the cut, per trainer (index = rank) the number of its pushes captured:
 *     every shard had applied exactly its pushes 0 .. nextPush[r]-1; empty for SYNC
 */
public record CheckpointInfo(long step, String path, long bytes, double snapshotMillis,
    double totalMillis, List<Long> nextPush) {

  public CheckpointInfo {
    nextPush = List.copyOf(nextPush);
  }

  static CheckpointInfo of(Checkpoint c) {
    return new CheckpointInfo(c.getStep(), c.getPath(), c.getBytes(), c.getSnapshotMillis(),
        c.getTotalMillis(), c.getNextPushList());
  }
}
