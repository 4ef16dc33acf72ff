package dev.shardopt.worker.store;

/**
 * What a checkpoint's snapshot copied on this worker, as SnapshotShards answers it.
 *
 * @param step the checkpoint's step (ASYNC: the pushes applied at the cut)
 * @param bytes parameters and state slots copied
 * @param updatesApplied t at the copy
 * @param stepsSkipped the pushes (ASYNC) or steps (SYNC) skipped at the copy
 */
public record ShardCopy(long step, long bytes, long updatesApplied, long stepsSkipped) {}
