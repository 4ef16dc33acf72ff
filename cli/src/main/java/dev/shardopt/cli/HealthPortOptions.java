package dev.shardopt.cli;

import dev.shardopt.rpc.HealthPort;
import io.grpc.BindableService;
import java.io.IOException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Option;

/**
 * {@code --health-port}: a second, plaintext port on --host serving only grpc.health.v1.Health, with no
 * token check, for probes that cannot speak TLS (Kubernetes' gRPC probes). Off unless given.
 */
public final class HealthPortOptions {
  private static final Logger log = LoggerFactory.getLogger(HealthPortOptions.class);

  @Option(names = "--health-port", paramLabel = "PORT",
      description = "Also serve the gRPC health service (grpc.health.v1.Health, the same status as --port) on this"
          + " port of --host, in plaintext and without a token, and nothing else: for Kubernetes' gRPC probes,"
          + " which cannot speak TLS (default: off; 0 picks a free port, logged as 'health on HOST:PORT'; not equal"
          + " to --port).")
  Integer healthPort;

  /** Refuses a port out of range or equal to a fixed {@code mainPort}, before anything starts. */
  void check(int mainPort) {
    if (healthPort == null) {
      return;
    }
    if (healthPort < 0 || healthPort > 65535) {
      throw new UserErrorException("--health-port must be in [0, 65535], got " + healthPort);
    }
    if (healthPort != 0 && healthPort == mainPort) {
      throw new UserErrorException("--health-port must differ from --port (" + mainPort + "): the health port serves"
          + " plaintext health checks only, the main port the secured services, got --health-port " + healthPort);
    }
  }

  /** Starts the health port on {@code host} serving {@code health}; null when --health-port is not given. */
  HealthPort start(String host, BindableService health) {
    if (healthPort == null) {
      return null;
    }
    try {
      HealthPort port = HealthPort.start(host, healthPort, health);
      log.info("health on {}", port.address());
      return port;
    } catch (IOException e) {
      throw new UserErrorException("cannot serve --health-port on " + host + ":" + healthPort + ": " + e.getMessage(), e);
    }
  }
}
