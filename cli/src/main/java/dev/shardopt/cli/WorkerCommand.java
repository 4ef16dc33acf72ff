package dev.shardopt.cli;

import dev.shardopt.rpc.HealthPort;
import dev.shardopt.rpc.security.GrpcSecurity;
import dev.shardopt.worker.server.WorkerConfig;
import dev.shardopt.worker.server.WorkerMetrics;
import dev.shardopt.worker.server.WorkerObserver;
import dev.shardopt.worker.server.WorkerModule;
import dev.shardopt.worker.server.WorkerServer;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code shardopt worker}: holds shards and applies updates until SIGTERM. */
@Command(name = "worker", mixinStandardHelpOptions = true,
    description = "Runs a worker: it registers with the coordinator, is given shards, and serves push and pull.")
public final class WorkerCommand implements Callable<Integer> {
  @Option(names = "--port", defaultValue = "7071", description = "Port to serve on (default: ${DEFAULT-VALUE}; 0 picks one).")
  int port;

  @Option(names = "--host", defaultValue = "127.0.0.1",
      description = "Address to bind, and to advertise unless --advertise says otherwise (default: ${DEFAULT-VALUE}).")
  String host;

  @Option(names = "--advertise", paramLabel = "HOST:PORT",
      description = "Address to register with the coordinator, where the coordinator and trainers reach this worker"
          + " (default: the bound --host and port); e.g. a fault proxy's in front of it.")
  String advertise;

  @Option(names = "--coordinator", required = true, paramLabel = "HOST:PORT", description = "The coordinator's address.")
  String coordinator;

  @Option(names = "--threads", description = "Kernel threads (default: the number of cores).")
  Integer threads;

  @Option(names = "--wait-ms", defaultValue = "60000",
      description = "How long a pull may wait for its step (default: ${DEFAULT-VALUE}).")
  long waitMillis;

  @Mixin DeviceOptions device = new DeviceOptions();

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
    WorkerConfig config = WorkerConfig.defaults(coordinator).withHost(host).withPort(port).withWaitMillis(waitMillis)
        .withDevice(device.selection());
    if (advertise != null) {
      config = config.withAdvertise(checkedHostPort("--advertise", advertise));
    }
    if (threads != null) {
      if (threads < 1) {
        throw new UserErrorException("--threads must be >= 1, got " + threads);
      }
      config = config.withThreads(threads);
    }
    GrpcSecurity grpcSecurity = security.security(auth.tokens()); // a bad file: one line, nothing started
    MetricsEndpoint endpoint = metrics.start(); // a bad --metrics-port leaves nothing started
    WorkerObserver observer = endpoint == null ? WorkerObserver.NONE : new WorkerMetrics(endpoint.registry());
    // A device that cannot open here fails with its one line (DeviceUnavailableException: exit 2).
    WorkerServer server;
    try {
      server = WorkerServer.create(new WorkerModule(config, observer, grpcSecurity));
    } catch (RuntimeException e) {
      if (endpoint != null) {
        endpoint.close();
      }
      throw e;
    }
    try {
      server.start();
    } catch (java.io.IOException e) {
      throw new UserErrorException("cannot serve on " + host + ":" + port + ": " + e.getMessage(), e);
    } catch (io.grpc.StatusRuntimeException e) {
      server.close();
      throw new UserErrorException("cannot register with the coordinator at " + coordinator + ": "
          + grpcSecurity.describe(e), e);
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

  private static final java.util.regex.Pattern HOST_PORT = java.util.regex.Pattern.compile("(\\S+):(\\d{1,5})");

  /**
   * {@code value} when it is HOST:PORT (a host without spaces, a port in [1, 65535]; an IPv6 host in
   * brackets), else a user error naming {@code option} and the value.
   */
  static String checkedHostPort(String option, String value) {
    java.util.regex.Matcher m = HOST_PORT.matcher(value);
    if (!m.matches() || Integer.parseInt(m.group(2)) < 1 || Integer.parseInt(m.group(2)) > 65535) {
      throw new UserErrorException(option + " must be HOST:PORT with a port in [1, 65535], got \"" + value + "\"");
    }
    return value;
  }
}
