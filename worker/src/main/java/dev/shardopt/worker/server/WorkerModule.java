package dev.shardopt.worker.server;

import com.google.inject.AbstractModule;
import com.google.inject.Provides;
import com.google.inject.Singleton;
import dev.shardopt.rpc.TensorBytes;
import dev.shardopt.rpc.security.GrpcSecurity;
import dev.shardopt.engine.device.DeviceBackend;
import dev.shardopt.engine.device.Devices;
import dev.shardopt.engine.kernel.ParallelApply;
import dev.shardopt.worker.store.ShardStore;
import dev.shardopt.worker.store.StepCoordinator;
import dev.shardopt.worker.store.WorkerCheckpoints;
import io.grpc.ManagedChannel;
import jakarta.inject.Named;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.LoggerFactory;

/**
 * Wires one worker process. Tests replace the StepCoordinator binding to inject faults, or the
 * Devices or DeviceBackend binding to give a worker another device.
 */
public class WorkerModule extends AbstractModule {
  private final WorkerConfig config;
  private final WorkerObserver observer;
  private final GrpcSecurity security;

  /** A worker without metrics. */
  public WorkerModule(WorkerConfig config) {
    this(config, WorkerObserver.NONE);
  }

  /** @param observer the process's worker metrics ({@code WorkerMetrics} on its registry), shared by its workers */
  public WorkerModule(WorkerConfig config, WorkerObserver observer) {
    this(config, observer, GrpcSecurity.plaintext());
  }

  /**
   * @param security the process's TLS and tokens: its server's credentials and token checks, and the
   *     credentials and (worker-role) token of its channel to the coordinator
   */
  public WorkerModule(WorkerConfig config, WorkerObserver observer, GrpcSecurity security) {
    this.config = config;
    this.observer = observer;
    this.security = security;
  }

  @Override
  protected void configure() {
    bind(WorkerConfig.class).toInstance(config);
    bind(WorkerObserver.class).toInstance(observer);
    bind(GrpcSecurity.class).toInstance(security);
    bind(WorkerService.class).in(Singleton.class);
    bind(WorkerServer.class).in(Singleton.class);
  }

  @Provides
  @Singleton
  @Named("workerName")
  AtomicReference<String> workerName() {
    return new AtomicReference<>("workers/unregistered");
  }

  @Provides
  @Singleton
  @Named("coordinator")
  ManagedChannel coordinatorChannel() {
    return security.channel(config.coordinator())
        .maxInboundMessageSize(TensorBytes.MAX_MESSAGE_BYTES).build();
  }

  @Provides
  @Singleton
  @Named("kernels")
  ExecutorService kernelPool() {
    return Executors.newFixedThreadPool(Math.max(1, config.threads() - 1), WorkerServer.daemon("kernel"));
  }

  @Provides
  @Singleton
  ParallelApply parallelApply(@Named("kernels") ExecutorService pool) {
    return new ParallelApply(pool, Math.max(1, config.threads()));
  }

  /** The device backends on the class path. */
  @Provides
  @Singleton
  Devices devices() {
    return Devices.installed();
  }

  /**
   * The one backend of this process, opened as the worker is built (so a device that cannot open
   * fails the start, with its one line: {@link WorkerServer#create}); closed by {@link WorkerServer#close}.
   */
  @Provides
  @Singleton
  DeviceBackend device(Devices devices, ParallelApply parallel) {
    return devices.open(config.device(), parallel, LoggerFactory.getLogger(WorkerModule.class)::info);
  }

  @Provides
  @Singleton
  StepCoordinator stepCoordinator(@Named("coordinator") ManagedChannel channel, @Named("workerName") AtomicReference<String> name) {
    // The coordinator's barrier gives up first; this deadline only bounds a lost coordinator.
    return new GrpcStepCoordinator(channel, name::get, config.waitMillis() + 5_000);
  }

  /** Times out waiting pulls and SSP pushes; a waiter holds no thread. */
  @Provides
  @Singleton
  @Named("timeouts")
  ScheduledExecutorService timeouts() {
    return Executors.newSingleThreadScheduledExecutor(WorkerServer.daemon("timeouts"));
  }

  /** Writes checkpoint snapshots to disk, one at a time, off the gRPC threads. */
  @Provides
  @Singleton
  @Named("checkpoints")
  ExecutorService checkpointWriter() {
    return Executors.newSingleThreadExecutor(WorkerServer.daemon("checkpoints"));
  }

  @Provides
  @Singleton
  ShardStore shardStore(StepCoordinator coordinator, DeviceBackend device, ParallelApply parallel,
      @Named("timeouts") ScheduledExecutorService timeouts, @Named("checkpoints") ExecutorService checkpoints,
      @Named("workerName") AtomicReference<String> name) {
    return new ShardStore(coordinator, device, parallel, timeouts,
        new WorkerCheckpoints(checkpoints, () -> "worker " + name.get()));
  }
}
