package dev.shardopt.coordinator;

import com.google.inject.AbstractModule;
import com.google.inject.Provides;
import com.google.inject.Singleton;
import dev.shardopt.rpc.security.GrpcSecurity;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;

/**
 * Wires the coordinator process. Tests replace WorkerFleet to inject faults, and ScheduleLockHooks
 * to pause threads around a model's schedule lock ({@code Modules.override}).
 */
public class CoordinatorModule extends AbstractModule {
  private final CoordinatorConfig config;
  private final CoordinatorObserver observer;
  private final GrpcSecurity security;

  /** A coordinator without metrics. */
  public CoordinatorModule(CoordinatorConfig config) {
    this(config, CoordinatorObserver.NONE);
  }

  /** @param observer the process's metrics of the coordinator ({@code CoordinatorMetrics} on its registry) */
  public CoordinatorModule(CoordinatorConfig config, CoordinatorObserver observer) {
    this(config, observer, GrpcSecurity.plaintext());
  }

  /**
   * @param security the process's TLS and tokens: its server's credentials and token checks, and the
   *     credentials and (worker-role) token of its calls to the workers
   */
  public CoordinatorModule(CoordinatorConfig config, CoordinatorObserver observer, GrpcSecurity security) {
    this.config = config;
    this.observer = observer;
    this.security = security;
  }

  @Override
  protected void configure() {
    bind(CoordinatorConfig.class).toInstance(config);
    bind(CoordinatorService.class).in(Singleton.class);
    bind(CoordinatorServer.class).in(Singleton.class);
    bind(ScheduleLockHooks.class).toInstance(ScheduleLockHooks.NONE);
    bind(CoordinatorObserver.class).toInstance(observer);
    bind(GrpcSecurity.class).toInstance(security);
  }

  @Provides
  @Singleton
  ScheduledExecutorService timer() {
    return Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "coordinator-timer");
      t.setDaemon(true);
      return t;
    });
  }

  @Provides
  @Singleton
  GrpcWorkerFleet grpcFleet() {
    return new GrpcWorkerFleet(30_000, config.barrierTimeoutMillis(), security);
  }

  @Provides
  @Singleton
  WorkerFleet fleet(GrpcWorkerFleet grpc) {
    return grpc;
  }

  /** The checkpoint's calls to the workers, all of a phase at once (each blocks for its answer). */
  @Provides
  @Singleton
  Checkpointer checkpointer(ModelRegistry models, WorkerFleet fleet, CoordinatorObserver observer) {
    return new Checkpointer(models, fleet, Executors.newCachedThreadPool(r -> {
      Thread t = new Thread(r, "coordinator-checkpoint");
      t.setDaemon(true);
      return t;
    }), observer);
  }

  @Provides
  @Singleton
  FailureDetector failureDetector(ModelRegistry models, WorkerRegistry workers) {
    return new FailureDetector(models, workers);
  }

  /** Re-replication: copies run one at a time on their own thread, off the timer's. */
  @Provides
  @Singleton
  Rereplicator rereplicator(ModelRegistry models, WorkerRegistry workers, WorkerFleet fleet, GrpcWorkerFleet copier) {
    return new Rereplicator(models, workers, fleet, copier, Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "coordinator-rereplication");
      t.setDaemon(true);
      return t;
    }));
  }

  @Provides
  @Singleton
  CheckpointRestorer restorer(ModelRegistry models) {
    return new CheckpointRestorer(models);
  }

  /** The state dir, read whole here: an unreadable one stops the start (UnreadableStateException). */
  @Provides
  @Singleton
  CoordinatorStateStore stateStore() {
    return config.stateDir() == null ? CoordinatorStateStore.none() : CoordinatorStateStore.open(config.stateDir());
  }

  @Provides
  @Singleton
  WorkerRegistry workers(CoordinatorStateStore store) {
    return new WorkerRegistry(config.heartbeatMillis(), config.missedBeats(), System::currentTimeMillis, store);
  }

  @Provides
  @Singleton
  ModelRegistry models(WorkerRegistry workers, WorkerFleet fleet, ScheduledExecutorService timer, ScheduleLockHooks hooks,
      CoordinatorStateStore store, CoordinatorObserver observer) {
    return new ModelRegistry(workers, fleet, timer, config, hooks, System::nanoTime, store, observer);
  }
}
