package dev.shardopt.coordinator;

import dev.shardopt.rpc.CoordinatorAnswers;
import dev.shardopt.rpc.GrpcServers;
import dev.shardopt.rpc.TensorBytes;
import dev.shardopt.rpc.security.GrpcSecurity;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import jakarta.inject.Inject;
import java.io.IOException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The coordinator process: the Coordinator service (with health and reflection) on a Netty server. */
public final class CoordinatorServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(CoordinatorServer.class);

  private final CoordinatorConfig config;
  private final CoordinatorService service;
  private final GrpcWorkerFleet fleet;
  private final ScheduledExecutorService timer;
  private final CoordinatorStateStore state;
  private final FailureDetector failures;
  private final Rereplicator rereplicator;
  private final GrpcSecurity security;
  private final HealthStatusManager health = new HealthStatusManager();
  private Server server;

  @Inject
  CoordinatorServer(CoordinatorConfig config, CoordinatorService service, GrpcWorkerFleet fleet, ScheduledExecutorService timer,
      CoordinatorStateStore state, FailureDetector failures, Rereplicator rereplicator, GrpcSecurity security) {
    this.config = config;
    this.service = service;
    this.fleet = fleet;
    this.timer = timer;
    this.state = state;
    this.failures = failures;
    this.rereplicator = rereplicator;
    this.security = security;
  }

  public CoordinatorServer start() throws IOException {
    server = security.start(security.server(config.host(), config.port())
        .addService(ServerInterceptors.intercept(service, CoordinatorAnswers.interceptor()))
        .addService(health.getHealthService())
        .addService(ProtoReflectionServiceV1.newInstance())
        .maxInboundMessageSize(TensorBytes.MAX_MESSAGE_BYTES)
        .executor(Executors.newCachedThreadPool(GrpcServers.daemonThreads("coordinator-rpc"))));
    health.setStatus("", ServingStatus.SERVING);
    failures.start(timer);
    rereplicator.start(timer);
    log.info("transport security: {}", security.summary());
    log.info("shardopt coordinator serving on {}; {}", address(), state.durable()
        ? "state in " + config.stateDir().toAbsolutePath()
        : "state is not durable (no --state-dir): a restart loses every model");
    return this;
  }

  public String address() {
    return config.host() + ":" + server.getPort();
  }

  public int port() {
    return server.getPort();
  }

  /**
   * The health service of this server, whose status it sets (SERVING once started, NOT_SERVING from
   * {@link #close}): for a plaintext health port ({@code dev.shardopt.rpc.HealthPort}) that answers the same.
   */
  public io.grpc.BindableService healthService() {
    return health.getHealthService();
  }

  public void awaitTermination() throws InterruptedException {
    server.awaitTermination();
  }

  private final java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();

  /** Stops serving (idempotent): running calls get 5 s to finish. */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    health.enterTerminalState();
    GrpcServers.stop(server, 5);
    fleet.close();
    timer.shutdownNow();
  }
}
