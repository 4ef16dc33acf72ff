package dev.shardopt.engine;

import dev.shardopt.engine.kernel.ReductionBlocks;

/**
 * A contiguous range {@code [offset, offset + length)} of one tensor's flattened elements. Offsets
 * fall on reduction-block boundaries, so per-block statistics do not depend on the sharding.
 */
public record ShardSpec(int tensorIndex, TensorShape tensor, int offset, int length) {

  public ShardSpec {
    if (tensorIndex < 0) {
      throw new IllegalArgumentException("tensorIndex must be >= 0, got " + tensorIndex);
    }
    if (offset < 0 || length < 0 || (long) offset + length > tensor.size()) {
      throw new IllegalArgumentException(
          "shard [" + offset + ", " + ((long) offset + length) + ") is outside tensor " + tensor);
    }
    if (offset % ReductionBlocks.BLOCK != 0) {
      throw new IllegalArgumentException(
          "shard offset " + offset + " of '" + tensor.name() + "' is not a multiple of the reduction block "
              + ReductionBlocks.BLOCK);
    }
  }

  /** The whole tensor as one shard. */
  public static ShardSpec whole(int tensorIndex, TensorShape tensor) {
    return new ShardSpec(tensorIndex, tensor, 0, tensor.size());
  }

  public String name() {
    return tensor.name();
  }

  public int firstBlock() {
    return offset / ReductionBlocks.BLOCK;
  }
}
