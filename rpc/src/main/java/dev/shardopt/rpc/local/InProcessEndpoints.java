package dev.shardopt.rpc.local;

import dev.shardopt.rpc.GrpcServers;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Server;
import io.grpc.ServerInterceptor;
import io.grpc.ServerServiceDefinition;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The loopback servers of one process that its own channels reach through gRPC's in-process
 * transport instead of sockets: an embedded cluster's coordinator, workers and client. Each server
 * keeps its loopback port (other processes, other languages and tools still connect there); beside
 * it runs an in-process server with the same services, and a channel to {@code localhost:port} or
 * {@code 127.0.0.1:port} of this process goes to that one. Messages are still serialized at send
 * time ({@link SerializingMarshaller}), so a call sees exactly the bytes it would over a socket.
 *
 * <p>One instance per cluster, shared by its servers and its client; no static registry, so two
 * clusters in one JVM stay apart.
 */
public final class InProcessEndpoints {
  private final String prefix = "shardopt-" + UUID.randomUUID() + "-";
  private final Map<Integer, String> names = new ConcurrentHashMap<>();
  private final SerializingCalls serializing = new SerializingCalls();

  /**
   * Starts an in-process twin of {@code loopback} (already started, on a loopback port) with the
   * same services behind {@code interceptors}, and returns a server that stops both.
   */
  public Server twin(Server loopback, List<ServerInterceptor> interceptors) throws IOException {
    int port = loopback.getPort();
    String name = prefix + port;
    ExecutorService executor = Executors.newCachedThreadPool(GrpcServers.daemonThreads("in-process-rpc"));
    InProcessServerBuilder builder = InProcessServerBuilder.forName(name).executor(executor);
    for (ServerServiceDefinition s : loopback.getServices()) {
      builder.addService(SerializingCalls.serializing(s));
    }
    interceptors.forEach(builder::intercept);
    Server twin;
    try {
      twin = builder.build().start();
    } catch (IOException | RuntimeException e) {
      executor.shutdownNow();
      throw e;
    }
    if (names.putIfAbsent(port, name) != null) {
      twin.shutdownNow();
      executor.shutdownNow();
      throw new IllegalStateException("two servers of one process on loopback port " + port);
    }
    return new TwinnedServer(loopback, twin, executor, () -> names.remove(port, name));
  }

  /** A channel to this process's server on loopback port {@code port}, if it has one here. */
  public Optional<ManagedChannelBuilder<?>> channel(int port) {
    String name = names.get(port);
    if (name == null) {
      return Optional.empty();
    }
    return Optional.of(InProcessChannelBuilder.forName(name).intercept(serializing));
  }

  /** Loopback ports served here (for tests and logs). */
  public java.util.Set<Integer> ports() {
    return java.util.Set.copyOf(names.keySet());
  }
}
