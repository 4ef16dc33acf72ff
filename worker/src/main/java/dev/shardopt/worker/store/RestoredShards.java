package dev.shardopt.worker.store;

import dev.shardopt.checkpoint.FileRange;
import dev.shardopt.engine.ShardGroup;
import java.util.List;

/**
 * This worker's shards of a model as a checkpoint holds them, and where the model continues.
 *
 * @param step the steps completed: the next step to collect (ASYNC: the pushes applied, the sum of
 *     {@code nextPush})
 * @param nextPush ASYNC: per trainer, its next push index (the checkpoint's cut); empty for SYNC
 * @param load reads the parameters and state into a new group's arrays
 * @param copy whether the shards are a re-replicated copy of live ones, whose arrays arrive after
 *     creation ({@link CopyIn}) rather than from {@code load}
 */
record RestoredShards(long step, long updatesApplied, long stepsSkipped, long[] nextPush, Load load, boolean copy) {

  RestoredShards(long step, long updatesApplied, long stepsSkipped, long[] nextPush, Load load) {
    this(step, updatesApplied, stepsSkipped, nextPush, load, false);
  }

  /** Shards that continue as a copy of live ones at SYNC step boundary {@code step}: their arrays are written next. */
  static RestoredShards copyAt(long step, long updatesApplied, long stepsSkipped) {
    return new RestoredShards(step, updatesApplied, stepsSkipped, new long[0], group -> List.of(), true);
  }

  /** Reads the checkpoint's values of a group's shards into its arrays. */
  @FunctionalInterface
  interface Load {
    /**
     * Writes every shard's parameters and state slots into {@code group}'s arrays, straight from
     * the files; returns the byte ranges read, each with the CRC32C of the bytes read, for the
     * coordinator, which checks them against the manifest.
     *
     * @throws dev.shardopt.rpc.ApiException naming the worker and the file when a file cannot be read
     */
    List<FileRange> into(ShardGroup group);
  }
}
