package dev.shardopt.worker.store;

import java.util.OptionalLong;

/**
 * One trainer's gradient for one step, as received.
 *
 * @param gradient one array per shard of this worker; null for a shard the push left out
 * @param checksum the payload's {@link PushChecksum}, which tells a retry from other data
 * @param normSquared ASYNC: the trainer's squared global gradient norm (after clipValue)
 * @param nonFinite ASYNC: whether the trainer's gradient has a NaN or Inf
 * @param generation ASYNC, optional: the pipeline generation the trainer computed its statistics under
 * @param epoch the shard map epoch the trainer sent it by (0 when it did not say)
 * @param firstNonFinite per shard, the index within {@code gradient[i]} of its first NaN or Inf, or
 *     -1, found while the chunks were decoded (so validation needs no pass of its own); null when
 *     not known (validation scans)
 */
public record GradientPush(
    int trainer, long step, float[][] gradient, long checksum, double normSquared, boolean nonFinite,
    OptionalLong generation, long epoch, int[] firstNonFinite) {

  /** A push whose non-finite values are not known yet. */
  public GradientPush(int trainer, long step, float[][] gradient, long checksum, double normSquared, boolean nonFinite,
      OptionalLong generation, long epoch) {
    this(trainer, step, gradient, checksum, normSquared, nonFinite, generation, epoch, null);
  }

  /** A push that names no shard map epoch. */
  public GradientPush(int trainer, long step, float[][] gradient, long checksum, double normSquared, boolean nonFinite,
      OptionalLong generation) {
    this(trainer, step, gradient, checksum, normSquared, nonFinite, generation, 0);
  }
}
