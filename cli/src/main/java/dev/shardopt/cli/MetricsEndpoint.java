package dev.shardopt.cli;

import dev.shardopt.rpc.GrpcServers;
import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import io.prometheus.metrics.instrumentation.jvm.JvmMetrics;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A process's Prometheus endpoint: its own registry (never the static default one), which the
 * process's modules put their metrics on, with the JVM's metrics, served at {@code /metrics} in the
 * Prometheus text format, or OpenMetrics (or protobuf) when the scraper's Accept header asks for it.
 */
public final class MetricsEndpoint implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(MetricsEndpoint.class);

  private final PrometheusRegistry registry;
  private final HTTPServer server;
  private final ExecutorService threads;
  private final String host;

  private MetricsEndpoint(PrometheusRegistry registry, HTTPServer server, ExecutorService threads, String host) {
    this.registry = registry;
    this.server = server;
    this.threads = threads;
    this.host = host;
  }

  /**
   * Serves a new registry with the JVM's metrics on {@code host:port} (0 picks a free port) and
   * logs where, on one line.
   *
   * @throws UserErrorException when the address cannot be bound (in use, not this machine's)
   */
  static MetricsEndpoint start(String host, int port) {
    PrometheusRegistry registry = new PrometheusRegistry();
    JvmMetrics.builder().register(registry);
    ExecutorService threads = Executors.newFixedThreadPool(2, GrpcServers.daemonThreads("metrics-http"));
    HTTPServer server;
    try {
      server = HTTPServer.builder().hostname(host).port(port).registry(registry).executorService(threads).buildAndStart();
    } catch (IOException | IllegalArgumentException e) {
      threads.shutdownNow();
      throw new UserErrorException("cannot serve metrics on " + host + ":" + port + " (--metrics-host, --metrics-port): "
          + e.getMessage(), e);
    }
    MetricsEndpoint endpoint = new MetricsEndpoint(registry, server, threads, host);
    log.info("metrics on {}", endpoint.url());
    return endpoint;
  }

  /** The registry this process's metrics go on. */
  public PrometheusRegistry registry() {
    return registry;
  }

  public int port() {
    return server.getPort();
  }

  public String url() {
    return "http://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + port() + "/metrics";
  }

  /** Stops serving (idempotent). */
  @Override
  public void close() {
    server.close();
    threads.shutdownNow();
  }
}
