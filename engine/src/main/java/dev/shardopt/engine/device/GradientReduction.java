package dev.shardopt.engine.device;

/**
 * The reductions of one step's gradient shard.
 *
 * @param blockSums per-block sums of squares after the clamp, in block order (unspecified when
 *     {@code firstNonFinite >= 0})
 * @param firstNonFinite index of the first NaN or infinite element, or -1
 */
public record GradientReduction(double[] blockSums, int firstNonFinite) {}
