package dev.shardopt.worker.store;

import java.util.List;

/**
 * This worker's shards of a model as a checkpoint holds them, and where the model continues.
 *
 * @param step the steps completed: the next step to collect
 * @param parameters per shard
 * @param state per shard, per state slot (the kernel's order)
 */
record RestoredShards(long step, long updatesApplied, long stepsSkipped, List<float[]> parameters, List<float[][]> state) {}
