package dev.shardopt.coordinator;

import com.google.inject.AbstractModule;
import com.google.inject.Provides;
import com.google.inject.Singleton;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;

/**
 * Wires the coordinator process. Tests replace WorkerFleet to inject faults, and ScheduleLockHooks
 * to pause threads around a model's schedule lock ({@code Modules.override}).
 */
public class CoordinatorModule extends AbstractModule {
  private final CoordinatorConfig config;

  public CoordinatorModule(CoordinatorConfig config) {
    this.config = config;
  }

  @Override
  protected void configure() {
    bind(CoordinatorConfig.class).toInstance(config);
    bind(CoordinatorService.class).in(Singleton.class);
    bind(CoordinatorServer.class).in(Singleton.class);
    bind(ScheduleLockHooks.class).toInstance(ScheduleLockHooks.NONE);
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
    return new GrpcWorkerFleet(30_000);
  }

  @Provides
  @Singleton
  WorkerFleet fleet(GrpcWorkerFleet grpc) {
    return grpc;
  }

  @Provides
  @Singleton
  WorkerRegistry workers() {
    return new WorkerRegistry(config.heartbeatMillis(), config.missedBeats(), System::currentTimeMillis);
  }

  @Provides
  @Singleton
  ModelRegistry models(WorkerRegistry workers, WorkerFleet fleet, ScheduledExecutorService timer, ScheduleLockHooks hooks) {
    return new ModelRegistry(workers, fleet, timer, config, hooks, System::nanoTime);
  }
}
