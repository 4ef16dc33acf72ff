package dev.shardopt.worker.store;

import java.util.List;

/**
 * This worker's shards of a model as a checkpoint holds them, and where the model continues.
 *
 * @param step the steps completed: the next step to collect (ASYNC: the pushes applied, the sum of
 *     {@code nextPush})
 * @param nextPush ASYNC: per trainer, its next push index (the checkpoint's cut); empty for SYNC
 * @param parameters per shard
 * @param state per shard, per state slot (the kernel's order)
 */
record RestoredShards(
    long step, long updatesApplied, long stepsSkipped, long[] nextPush, List<float[]> parameters, List<float[][]> state) {}
