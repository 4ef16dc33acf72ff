package dev.shardopt.coordinator;

import dev.shardopt.engine.BlockStatistics;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One step's statistics from every worker's report, each shard's once: a replicated model's copies
 * of a shard each report the same blocks. The copies apply the same decisions to the same
 * gradients with the same kernels, so their statistics must be bitwise equal; a difference means a
 * copy has diverged, and no decision can be trusted.
 */
final class ReplicaStatistics {
  private ReplicaStatistics() {}

  /** A copy whose statistics differ from another copy's of the same shard. */
  static final class DivergedException extends IllegalStateException {
    DivergedException(String message) {
      super(message);
    }
  }

  /**
   * @param byWorker each reporting worker's statistics, in report order
   * @return the statistics of every shard once, the first reporter's
   * @throws DivergedException naming the shard, the two workers and what differs
   */
  static List<BlockStatistics> merge(Map<String, List<BlockStatistics>> byWorker) {
    Map<Long, BlockStatistics> seen = new LinkedHashMap<>();
    Map<Long, String> from = new LinkedHashMap<>();
    for (Map.Entry<String, List<BlockStatistics>> e : byWorker.entrySet()) {
      for (BlockStatistics s : e.getValue()) {
        long key = ((long) s.tensorIndex() << 32) | (s.firstBlock() & 0xffffffffL);
        BlockStatistics earlier = seen.putIfAbsent(key, s);
        if (earlier == null) {
          from.put(key, e.getKey());
        } else if (!sameBits(earlier, s)) {
          throw new DivergedException("the copies of the shard of tensor " + s.tensorIndex() + " from block "
              + s.firstBlock() + " differ: " + from.get(key) + " reported " + describe(earlier) + ", " + e.getKey()
              + " " + describe(s));
        }
      }
    }
    return new ArrayList<>(seen.values());
  }

  private static boolean sameBits(BlockStatistics a, BlockStatistics b) {
    if (a.firstNonFinite() != b.firstNonFinite() || a.blockSums().length != b.blockSums().length) {
      return false;
    }
    for (int i = 0; i < a.blockSums().length; i++) {
      if (Double.doubleToRawLongBits(a.blockSums()[i]) != Double.doubleToRawLongBits(b.blockSums()[i])) {
        return false;
      }
    }
    return true;
  }

  private static String describe(BlockStatistics s) {
    return "sums " + Arrays.toString(s.blockSums()) + (s.firstNonFinite() < 0 ? "" : ", non-finite at "
        + s.firstNonFinite());
  }
}
