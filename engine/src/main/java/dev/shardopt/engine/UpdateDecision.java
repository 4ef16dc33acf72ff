package dev.shardopt.engine;

/**
 * Phase two of a step: the global decision that every shard applies alike.
 *
 * @param action apply the update, or skip it (skipNonFinite)
 * @param update t, the number of updates applied before this one
 * @param learningRate lr_t before lrScale
 * @param clipScale the clipNorm coefficient, 1 without clipNorm
 * @param gradientNorm the global L2 norm of the step's gradient before clipNorm (after clipValue)
 * @param nonFinite where the first non-finite value is, for messages; null when finite
 */
public record UpdateDecision(
    Action action, long update, double learningRate, float clipScale, double gradientNorm, String nonFinite) {

  public enum Action {
    APPLY,
    SKIP
  }

  public boolean applies() {
    return action == Action.APPLY;
  }
}
