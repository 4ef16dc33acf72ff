package dev.shardopt.engine;

import dev.shardopt.dsl.Pipeline;
import java.util.Comparator;
import java.util.List;

/**
 * The global stages of a step, from every shard's statistics: the non-finite decision and the clip
 * norm. Statistics are combined in (tensor, block) order, whatever order they arrive in, so the
 * decision is bitwise the same for every sharding: the per-block sums of a tensor are added in
 * block order, then the tensors' sums in model order.
 */
public final class StepDecider {
  private StepDecider() {}

  /**
   * @param t updates applied so far
   * @param stats the statistics of every non-frozen shard of the model
   * @param tensorNames names by tensor index, for messages
   */
  public static UpdateDecision decide(Pipeline p, long t, List<BlockStatistics> stats, List<String> tensorNames) {
    for (BlockStatistics s : inOrder(stats)) {
      if (s.firstNonFinite() >= 0) {
        String where = "the gradient of '" + tensorNames.get(s.tensorIndex()) + "' is not finite at index "
            + s.firstNonFinite();
        return new UpdateDecision(UpdateDecision.Action.SKIP, t, Double.NaN, 1f, Double.NaN, where);
      }
    }
    return withNorm(p, t, p.learningRate(t), Math.sqrt(sumOfSquares(stats)));
  }

  /**
   * The squared global norm: each tensor's block sums added in block order, then the tensors' sums
   * in model order, whatever order the statistics come in. An ASYNC trainer's header uses this too,
   * so that its norm is bitwise the one a SYNC step would compute.
   */
  public static double sumOfSquares(List<BlockStatistics> stats) {
    double total = 0;
    int tensor = -1;
    double tensorSum = 0;
    for (BlockStatistics s : inOrder(stats)) {
      if (s.tensorIndex() != tensor) {
        total += tensorSum;
        tensorSum = 0;
        tensor = s.tensorIndex();
      }
      for (double b : s.blockSums()) {
        tensorSum += b;
      }
    }
    return total + tensorSum;
  }

  private static List<BlockStatistics> inOrder(List<BlockStatistics> stats) {
    return stats.stream()
        .sorted(Comparator.comparingInt(BlockStatistics::tensorIndex).thenComparingInt(BlockStatistics::firstBlock))
        .toList();
  }


  /** ASYNC: the decision from the trainer's own gradient statistics. */
  public static UpdateDecision decideAsync(Pipeline p, long t, double normSquared, boolean nonFinite) {
    if (nonFinite || !Double.isFinite(normSquared)) {
      return new UpdateDecision(UpdateDecision.Action.SKIP, t, Double.NaN, 1f, Double.NaN, "the trainer reported a non-finite gradient");
    }
    double lr = p.learningRate(t);
    return withNorm(p, t, lr, Math.sqrt(normSquared));
  }

  private static UpdateDecision withNorm(Pipeline p, long t, double lr, double norm) {
    if (p.clipNormLimit().isEmpty()) {
      return new UpdateDecision(UpdateDecision.Action.APPLY, t, lr, 1f, norm, null);
    }
    float scale = (float) Math.min(1.0, p.clipNormLimit().getAsDouble() / (norm + 1e-6));
    return new UpdateDecision(UpdateDecision.Action.APPLY, t, lr, scale, norm, null);
  }
}
