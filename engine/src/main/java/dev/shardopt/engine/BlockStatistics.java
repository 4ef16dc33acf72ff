package dev.shardopt.engine;

/**
 * Phase one of a step: what one shard contributes to the global decisions.
 *
 * @param tensorIndex position of the shard's tensor in the model
 * @param firstBlock index of the shard's first reduction block in its tensor
 * @param blockSums per-block sums of squares after clipValue, in block order
 * @param firstNonFinite index within the tensor of the first NaN/Inf element, or -1
 */
public record BlockStatistics(int tensorIndex, int firstBlock, double[] blockSums, long firstNonFinite) {}
