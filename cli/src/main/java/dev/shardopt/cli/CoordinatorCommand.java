package dev.shardopt.cli;

import com.google.inject.CreationException;
import com.google.inject.Guice;
import com.google.inject.ProvisionException;
import dev.shardopt.coordinator.CoordinatorConfig;
import dev.shardopt.coordinator.CoordinatorMetrics;
import dev.shardopt.coordinator.CoordinatorObserver;
import dev.shardopt.coordinator.CoordinatorModule;
import dev.shardopt.coordinator.CoordinatorServer;
import dev.shardopt.coordinator.CoordinatorStateStore;
import dev.shardopt.rpc.HealthPort;
import dev.shardopt.rpc.security.GrpcSecurity;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code shardopt coordinator}: runs the control plane until SIGTERM. */
@Command(name = "coordinator", mixinStandardHelpOptions = true,
    description = "Runs a coordinator: worker membership, models and shard maps, the step barrier.")
public final class CoordinatorCommand implements Callable<Integer> {
  @Option(names = "--port", defaultValue = "7070", description = "Port to serve on (default: ${DEFAULT-VALUE}; 0 picks one).")
  int port;

  @Option(names = "--host", defaultValue = "127.0.0.1", description = "Address to bind (default: ${DEFAULT-VALUE}).")
  String host;

  @Option(names = "--barrier-timeout-ms", defaultValue = "30000",
      description = "How long a synchronous step waits for every worker (default: ${DEFAULT-VALUE}).")
  long barrierTimeoutMillis;

  @Option(names = "--heartbeat-ms", defaultValue = "500", description = "Worker heartbeat interval (default: ${DEFAULT-VALUE}).")
  long heartbeatMillis;

  @Option(names = "--failure-timeout-ms", defaultValue = "3000",
      description = "A worker that misses its heartbeats this long is declared dead: the backups of its shards take"
          + " over (models with --replicas 2 or more) or its models fail (default: ${DEFAULT-VALUE}; a whole number"
          + " of heartbeats, less than --barrier-timeout-ms).")
  long failureTimeoutMillis;

  @Option(names = "--state-dir", description = "Directory where the coordinator keeps workers, models, schedules and"
      + " decided steps, durable before it answers, so that it continues after a crash or kill -9 (default: none,"
      + " a restart loses every model).")
  Path stateDir;

  @Mixin MetricsOptions metrics = new MetricsOptions();

  @Mixin SecurityOptions security = new SecurityOptions();

  @Mixin AuthOptions auth = new AuthOptions();

  @Mixin HealthPortOptions healthPort = new HealthPortOptions();

  @Override
  public Integer call() throws Exception {
    if (port < 0 || port > 65535) {
      throw new UserErrorException("--port must be in [0, 65535], got " + port);
    }
    healthPort.check(port);
    if (heartbeatMillis < 1) {
      throw new UserErrorException("--heartbeat-ms must be >= 1, got " + heartbeatMillis);
    }
    if (failureTimeoutMillis < heartbeatMillis || failureTimeoutMillis >= barrierTimeoutMillis) {
      throw new UserErrorException("--failure-timeout-ms must be at least --heartbeat-ms (" + heartbeatMillis
          + ") and less than --barrier-timeout-ms (" + barrierTimeoutMillis + ", or a step would time out before a"
          + " dead worker's backups take over), got " + failureTimeoutMillis);
    }
    int missedBeats = (int) Math.min(Integer.MAX_VALUE, (failureTimeoutMillis + heartbeatMillis - 1) / heartbeatMillis);
    CoordinatorConfig config = CoordinatorConfig.defaults().withHost(host).withPort(port)
        .withBarrierTimeoutMillis(barrierTimeoutMillis).withHeartbeatMillis(heartbeatMillis).withMissedBeats(missedBeats)
        .withStateDir(stateDir);
    GrpcSecurity grpcSecurity = security.security(auth.tokens()); // a bad file: one line, nothing started
    MetricsEndpoint endpoint = metrics.start(); // a bad --metrics-port leaves nothing started
    CoordinatorObserver observer = endpoint == null ? CoordinatorObserver.NONE : new CoordinatorMetrics(endpoint.registry());
    CoordinatorServer server;
    try {
      server = Guice.createInjector(new CoordinatorModule(config, observer, grpcSecurity)).getInstance(CoordinatorServer.class);
    } catch (ProvisionException | CreationException e) {
      Throwable cause = e;
      while (cause != null && !(cause instanceof CoordinatorStateStore.UnreadableStateException)) {
        cause = cause.getCause();
      }
      if (cause != null) {
        throw new UserErrorException(cause.getMessage(), cause); // never start empty over a state dir it cannot read
      }
      throw e;
    }
    try {
      server.start();
    } catch (java.io.IOException e) {
      throw new UserErrorException("cannot serve on " + host + ":" + port + ": " + e.getMessage(), e);
    }
    HealthPort health;
    try {
      health = healthPort.start(host, server.healthService());
    } catch (UserErrorException e) {
      server.close();
      throw e;
    }
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      server.close(); // NOT_SERVING on both ports first
      if (health != null) {
        health.close();
      }
      grpcSecurity.close();
      if (endpoint != null) {
        endpoint.close();
      }
    }, "shutdown"));
    server.awaitTermination();
    return ShardoptCli.EXIT_OK;
  }
}
