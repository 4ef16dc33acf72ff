package dev.shardopt.client;

import dev.shardopt.v1.Checkpoint;

/**
 * A complete checkpoint, as {@code Coordinator.CheckpointModel} reports it.
 *
 * @param step the step boundary captured: the state after that many steps
 * @param path the checkpoint's directory, {@code DIR/step-<s>}, as the coordinator sees it
 * @param bytes bytes of tensor and optimizer state data written
 * @param snapshotMillis how long training was held for the workers' in-memory snapshots
 * @param totalMillis how long the whole checkpoint took, writes and manifest included
 */
public record CheckpointInfo(long step, String path, long bytes, double snapshotMillis,
    double totalMillis) {

  static CheckpointInfo of(Checkpoint c) {
    return new CheckpointInfo(c.getStep(), c.getPath(), c.getBytes(), c.getSnapshotMillis(),
        c.getTotalMillis());
  }
}
