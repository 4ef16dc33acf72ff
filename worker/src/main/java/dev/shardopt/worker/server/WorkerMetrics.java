package dev.shardopt.worker.server;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.Unit;

/**
 * The workers' Prometheus metrics, registered once on the process's registry (never the static
 * default one) and shared by every worker of the process, labelled by model and worker: push and
 * pull latency and bytes, duplicate pushes, and each worker's part of checkpoints.
 */
public final class WorkerMetrics implements WorkerObserver {
  private static final double[] LATENCY_BOUNDS =
      {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
  private static final double[] CHECKPOINT_BOUNDS = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};

  private final Histogram pushDuration;
  private final Counter pushBytes;
  private final Counter duplicates;
  private final Histogram pullDuration;
  private final Counter pullBytes;
  private final Histogram copyDuration;
  private final Histogram persistDuration;
  private final Counter checkpointBytes;

  public WorkerMetrics(PrometheusRegistry registry) {
    pushDuration = Histogram.builder().name("shardopt_push_duration_seconds").unit(Unit.SECONDS)
        .help("Time of an acknowledged push at a worker: its first message to the acknowledgement")
        .labelNames("model", "worker").classicOnly().classicUpperBounds(LATENCY_BOUNDS).withoutExemplars()
        .register(registry);
    pushBytes = Counter.builder().name("shardopt_push_bytes").unit(Unit.BYTES)
        .help("Gradient bytes of the acknowledged pushes, duplicates included (4 per float32 element)")
        .labelNames("model", "worker").withoutExemplars().register(registry);
    duplicates = Counter.builder().name("shardopt_push_duplicates_total")
        .help("Pushes acknowledged as duplicates: a (trainer, step) received before, not applied again")
        .labelNames("model", "worker").withoutExemplars().register(registry);
    pullDuration = Histogram.builder().name("shardopt_pull_duration_seconds").unit(Unit.SECONDS)
        .help("Time of an answered pull at a worker: the request (and its wait for the step) to its last message sent")
        .labelNames("model", "worker").classicOnly().classicUpperBounds(LATENCY_BOUNDS).withoutExemplars()
        .register(registry);
    pullBytes = Counter.builder().name("shardopt_pull_bytes").unit(Unit.BYTES)
        .help("Parameter bytes of the answered pulls (4 per float32 element)")
        .labelNames("model", "worker").withoutExemplars().register(registry);
    copyDuration = Histogram.builder().name("shardopt_shard_copy_duration_seconds").unit(Unit.SECONDS)
        .help("Checkpoint phase one at a worker: the request (and its wait for the boundary) to its shards copied")
        .labelNames("model", "worker").classicOnly().classicUpperBounds(CHECKPOINT_BOUNDS).withoutExemplars()
        .register(registry);
    persistDuration = Histogram.builder().name("shardopt_shard_persist_duration_seconds").unit(Unit.SECONDS)
        .help("Checkpoint phase two at a worker: the request to its files forced to disk")
        .labelNames("model", "worker").classicOnly().classicUpperBounds(CHECKPOINT_BOUNDS).withoutExemplars()
        .register(registry);
    checkpointBytes = Counter.builder().name("shardopt_shard_checkpoint_bytes").unit(Unit.BYTES)
        .help("Tensor data bytes a worker forced to disk for checkpoints")
        .labelNames("model", "worker").withoutExemplars().register(registry);
  }

  @Override
  public void pushed(String worker, String model, long bytes, double seconds, boolean duplicate) {
    pushDuration.labelValues(model, worker).observe(seconds);
    pushBytes.labelValues(model, worker).inc(bytes);
    var duplicated = duplicates.labelValues(model, worker); // the series exists from the first push: 0, not absent
    if (duplicate) {
      duplicated.inc();
    }
  }

  @Override
  public void pulled(String worker, String model, long bytes, double seconds) {
    pullDuration.labelValues(model, worker).observe(seconds);
    pullBytes.labelValues(model, worker).inc(bytes);
  }

  @Override
  public void shardsCopied(String worker, String model, long bytes, double seconds) {
    copyDuration.labelValues(model, worker).observe(seconds);
  }

  @Override
  public void shardsPersisted(String worker, String model, long bytes, double seconds) {
    persistDuration.labelValues(model, worker).observe(seconds);
    checkpointBytes.labelValues(model, worker).inc(bytes);
  }

  @Override
  public void modelDropped(String worker, String model) {
    pushDuration.remove(model, worker);
    pushBytes.remove(model, worker);
    duplicates.remove(model, worker);
    pullDuration.remove(model, worker);
    pullBytes.remove(model, worker);
    copyDuration.remove(model, worker);
    persistDuration.remove(model, worker);
    checkpointBytes.remove(model, worker);
  }
}
