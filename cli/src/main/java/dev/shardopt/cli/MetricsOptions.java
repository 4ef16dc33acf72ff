package dev.shardopt.cli;

import picocli.CommandLine.Option;

/**
 * {@code --metrics-port} and {@code --metrics-host}: the process's Prometheus endpoint, off unless
 * a port is given. A mixin of coordinator, worker and train.
 */
public final class MetricsOptions {
  @Option(names = "--metrics-port", paramLabel = "PORT",
      description = "Serve Prometheus metrics (this process's and the JVM's) on http://HOST:PORT/metrics; 0 picks a free"
          + " port, logged as \"metrics on http://...\" (default: off).")
  Integer port;

  @Option(names = "--metrics-host", paramLabel = "HOST", defaultValue = "127.0.0.1",
      description = "Address the metrics endpoint binds (default: ${DEFAULT-VALUE}, loopback like the gRPC servers).")
  String host = "127.0.0.1";

  /** Whether a metrics port was given. */
  public boolean enabled() {
    return port != null;
  }

  /**
   * The endpoint, serving, on a new registry of this process with the JVM's metrics; null when off.
   * Call it before anything else starts: a port out of range or in use is a user error (exit 2,
   * one line) that leaves nothing running.
   */
  public MetricsEndpoint start() {
    if (port == null) {
      return null;
    }
    if (port < 0 || port > 65535) {
      throw new UserErrorException("--metrics-port must be in [0, 65535], got " + port);
    }
    return MetricsEndpoint.start(host, port);
  }
}
