package dev.shardopt.rpc;

import io.grpc.BindableService;
import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.concurrent.Executors;

/**
 * A second, plaintext gRPC server that serves one service, the standard health service
 * ({@code grpc.health.v1.Health}), with no token check: for probes that cannot speak TLS (the kubelet's
 * native gRPC probe). It is given the main server's health service, so both ports answer the same
 * status; every other method answers UNIMPLEMENTED, as this server knows no other service.
 */
public final class HealthPort implements AutoCloseable {
  private final Server server;
  private final String host;

  private HealthPort(Server server, String host) {
    this.server = server;
    this.host = host;
  }

  /**
   * Starts serving {@code health} (the main server's {@code HealthStatusManager.getHealthService()}) on
   * {@code host:port} in plaintext; port 0 picks a free one.
   */
  public static HealthPort start(String host, int port, BindableService health) throws IOException {
    Server server = NettyServerBuilder.forAddress(new InetSocketAddress(host, port), InsecureServerCredentials.create())
        .addService(health)
        .maxInboundMessageSize(64 * 1024) // a health request is a service name
        .executor(Executors.newCachedThreadPool(GrpcServers.daemonThreads("health-rpc")))
        .build().start();
    return new HealthPort(server, host);
  }

  /** The bound port. */
  public int port() {
    return server.getPort();
  }

  /** Where it serves: HOST:PORT. */
  public String address() {
    return host + ":" + port();
  }

  /** Stops serving (idempotent). */
  @Override
  public void close() {
    GrpcServers.stop(server, 1);
  }
}
