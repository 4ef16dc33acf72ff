package dev.shardopt.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A coordinator's model registry and Checkpointer over a {@link ModelRegistryTest.FakeFleet}, with
 * workers host1:7001 (w1) and host2:7002 (w2) registered; the checkpoint and restore tests' setup.
 */
final class CheckpointCluster implements AutoCloseable {
  static final String A1 = "host1:7001";
  static final String A2 = "host2:7002";

  /** The workers' heartbeat clock: move it on to make w1 and w2 unhealthy. */
  final AtomicLong now = new AtomicLong(1_000_000);
  final WorkerRegistry workers = new WorkerRegistry(500, 6, now::get);
  final ModelRegistryTest.FakeFleet fleet = new ModelRegistryTest.FakeFleet();
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
  private final ExecutorService calls = Executors.newCachedThreadPool();
  final ModelRegistry registry = new ModelRegistry(workers, fleet, timer, CoordinatorConfig.defaults(),
      ScheduleLockHooks.NONE, new AtomicLong()::get);
  final Checkpointer checkpointer = new Checkpointer(registry, fleet, calls);

  CheckpointCluster() {
    workers.register(A1);
    workers.register(A2);
  }

  @Override
  public void close() throws InterruptedException {
    timer.shutdownNow();
    calls.shutdownNow();
    assertThat(timer.awaitTermination(5, TimeUnit.SECONDS)).isTrue();
    assertThat(calls.awaitTermination(5, TimeUnit.SECONDS)).isTrue();
  }
}
