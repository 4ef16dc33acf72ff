package dev.shardopt.coordinator;

import dev.shardopt.engine.UpdateDecision;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.Unit;

/**
 * The coordinator's Prometheus metrics, registered on the process's registry (never the static
 * default one), each labelled by model alone: step duration and barrier wait, the last decided step's
 * gradient norms and learning rate, steps decided and skipped, and checkpoints written. The values
 * are the decisions' own, as GetMetrics reports them: {@code shardopt_gradient_norm} is the global
 * L2 norm of the step's summed gradient before clipping, {@code shardopt_clipped_gradient_norm}
 * that norm times the clip scale, NaN (like the learning rate) for a skipped step.
 * {@code shardopt_failovers_total} counts the workers declared dead that held copies of the model,
 * {@code shardopt_live_copies_min} the fewest copies any of its shards has after the last failover or
 * re-replication.
 */
public final class CoordinatorMetrics implements CoordinatorObserver {
  private final Histogram stepDuration;
  private final Histogram barrierWait;
  private final Counter stepsDecided;
  private final Counter stepsSkipped;
  private final Gauge gradientNorm;
  private final Gauge clippedGradientNorm;
  private final Gauge learningRate;
  private final Histogram checkpointDuration;
  private final Counter checkpointBytes;
  private final Counter failovers;
  private final Gauge liveCopiesMin;

  public CoordinatorMetrics(PrometheusRegistry registry) {
    stepDuration = Histogram.builder().name("shardopt_step_duration_seconds").unit(Unit.SECONDS)
        .help("Time of a SYNC step at the coordinator: its first worker report to its decision made durable")
        .labelNames("model").classicOnly().withoutExemplars().register(registry);
    barrierWait = Histogram.builder().name("shardopt_barrier_wait_seconds").unit(Unit.SECONDS)
        .help("Time of a SYNC step's barrier: its first worker report to its last")
        .labelNames("model").classicOnly().withoutExemplars().register(registry);
    stepsDecided = Counter.builder().name("shardopt_steps_decided_total")
        .help("SYNC steps decided (applied or skipped) by this coordinator process")
        .labelNames("model").withoutExemplars().register(registry);
    stepsSkipped = Counter.builder().name("shardopt_steps_skipped_total")
        .help("SYNC steps decided as skipped (a non-finite gradient under skipNonFinite)")
        .labelNames("model").withoutExemplars().register(registry);
    gradientNorm = Gauge.builder().name("shardopt_gradient_norm")
        .help("Global L2 norm of the last decided step's gradient, before clipping")
        .labelNames("model").withoutExemplars().register(registry);
    clippedGradientNorm = Gauge.builder().name("shardopt_clipped_gradient_norm")
        .help("Global L2 norm of the last decided step's gradient after clipping; NaN when it was skipped")
        .labelNames("model").withoutExemplars().register(registry);
    learningRate = Gauge.builder().name("shardopt_learning_rate")
        .help("Learning rate of the last decided step; NaN when it was skipped")
        .labelNames("model").withoutExemplars().register(registry);
    checkpointDuration = Histogram.builder().name("shardopt_checkpoint_duration_seconds").unit(Unit.SECONDS)
        .help("Time of a committed checkpoint: the request to the manifest's commit")
        .labelNames("model").classicOnly().classicUpperBounds(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
        .withoutExemplars().register(registry);
    checkpointBytes = Counter.builder().name("shardopt_checkpoint_bytes").unit(Unit.BYTES)
        .help("Tensor data bytes of the committed checkpoints (parameters and optimizer state, no headers)")
        .labelNames("model").withoutExemplars().register(registry);
    failovers = Counter.builder().name("shardopt_failovers_total")
        .help("Workers holding copies of the model declared dead, their shards' backups promoted")
        .labelNames("model").withoutExemplars().register(registry);
    liveCopiesMin = Gauge.builder().name("shardopt_live_copies_min")
        .help("The fewest live copies any shard of the model has, as of its last failover or re-replication")
        .labelNames("model").withoutExemplars().register(registry);
  }

  @Override
  public void failedOver(String model, String worker, long epoch, int minLiveCopies) {
    failovers.labelValues(model).inc();
    liveCopiesMin.labelValues(model).set(minLiveCopies);
  }

  @Override
  public void copiesAdded(String model, String worker, int copies, long epoch, int minLiveCopies) {
    liveCopiesMin.labelValues(model).set(minLiveCopies);
  }

  @Override
  public void stepDecided(String model, DecidedStep step, double barrierWaitSeconds, double stepSeconds) {
    UpdateDecision d = step.decision();
    stepDuration.labelValues(model).observe(stepSeconds);
    barrierWait.labelValues(model).observe(barrierWaitSeconds);
    stepsDecided.labelValues(model).inc();
    var skipped = stepsSkipped.labelValues(model); // the series exists from the first step: 0, not absent
    if (!d.applies()) {
      skipped.inc();
    }
    gradientNorm.labelValues(model).set(d.gradientNorm());
    clippedGradientNorm.labelValues(model).set(d.applies() ? d.gradientNorm() * d.clipScale() : Double.NaN);
    learningRate.labelValues(model).set(d.applies() ? d.learningRate() : Double.NaN);
  }

  @Override
  public void checkpointWritten(String model, long bytes, double seconds) {
    checkpointDuration.labelValues(model).observe(seconds);
    checkpointBytes.labelValues(model).inc(bytes);
  }

  @Override
  public void modelDeleted(String model) {
    stepDuration.remove(model);
    barrierWait.remove(model);
    stepsDecided.remove(model);
    stepsSkipped.remove(model);
    gradientNorm.remove(model);
    clippedGradientNorm.remove(model);
    learningRate.remove(model);
    checkpointDuration.remove(model);
    checkpointBytes.remove(model);
    failovers.remove(model);
    liveCopiesMin.remove(model);
  }
}
