package dev.shardopt.chaos;

import io.grpc.Server;
import io.grpc.ServerCallHandler;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.ChannelOption;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A transparent gRPC proxy on 127.0.0.1 in front of one target, which injects faults under test
 * control. It forwards every method of every service without knowing them (messages stay bytes):
 * unary and streaming calls in both directions, with headers, trailers, status codes and the
 * caller's deadline. Faults are chosen per call by {@link #rules()} and counted in
 * {@link #counters()}; {@link #cutAll()} and {@link #releaseBlackholes()} act on the calls open now.
 *
 * <pre>{@code
 * try (GrpcFaultProxy proxy = GrpcFaultProxy.start("127.0.0.1:7071")) {
 *   proxy.rules().inject(MethodMatch.exact("shardopt.v1.Worker/Push"), Fault.dropResponse(), 1);
 *   // a worker advertising proxy.address() now loses the acknowledgement of its next push
 * }
 * }</pre>
 */
public final class GrpcFaultProxy implements AutoCloseable {
  private final int port;
  private final Upstream upstream;
  private final FaultRules rules = new FaultRules();
  private final FaultCounters counters = new FaultCounters();
  private final OpenCalls open = new OpenCalls();
  private final Blackhole blackhole = new Blackhole();
  private final ScheduledExecutorService timer;
  private final ExecutorService callbacks;
  private final ServerCallHandler<byte[], byte[]> handler;
  private Server server;

  private GrpcFaultProxy(String target, int port) throws IOException {
    this.upstream = new Upstream(target);
    this.timer = Executors.newSingleThreadScheduledExecutor(daemon("chaos-timer"));
    this.callbacks = Executors.newCachedThreadPool(daemon("chaos-proxy"));
    this.handler = new ProxyCallHandler(upstream, rules, counters, open, blackhole, new ReorderGate(timer), timer);
    try {
      this.server = listen(port);
    } catch (IOException | RuntimeException e) {
      shutdownExecutors();
      upstream.shutdownNow();
      throw e;
    }
    this.port = server.getPort();
  }

  /** A proxy on a free port of 127.0.0.1 in front of {@code target} ({@code host:port}). */
  public static GrpcFaultProxy start(String target) throws IOException {
    return start(target, 0);
  }

  /**
   * A proxy on 127.0.0.1:{@code port} (0: a free one) in front of {@code target} ({@code host:port}).
   *
   * @throws IllegalArgumentException when the port is not in [0, 65535] or the target is not host:port
   * @throws IOException when the port cannot be bound
   */
  public static GrpcFaultProxy start(String target, int port) throws IOException {
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("proxy port must be in [0, 65535], got " + port);
    }
    if (target == null || !target.matches("\\S+:\\d{1,5}")) {
      throw new IllegalArgumentException("proxy target must be HOST:PORT, got " + target);
    }
    return new GrpcFaultProxy(target, port);
  }

  private Server listen(int p) throws IOException {
    // SO_REUSEADDR: cutAll listens again on the same port at once.
    return NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", p))
        .withOption(ChannelOption.SO_REUSEADDR, true)
        .fallbackHandlerRegistry(new AnyMethodRegistry(handler))
        .maxInboundMessageSize(Integer.MAX_VALUE)
        .maxInboundMetadataSize(Integer.MAX_VALUE)
        .executor(callbacks)
        .build()
        .start();
  }

  /** Where callers connect: {@code 127.0.0.1:port}. */
  public String address() {
    return "127.0.0.1:" + port;
  }

  public int port() {
    return port;
  }

  /** The address every call is forwarded to. */
  public String target() {
    return upstream.target();
  }

  /** The faults to inject, changed at run time. */
  public FaultRules rules() {
    return rules;
  }

  public FaultCounters counters() {
    return counters;
  }

  /** Calls open in the proxy now (relayed, held for a delay or a reorder, or in a blackhole). */
  public int openCalls() {
    return open.size();
  }

  /**
   * Cuts every connection now: each open call ends, the caller with UNAVAILABLE and the target with a
   * cancellation (counted as {@link FaultKind#CUT_ALL}), then both TCP connections are closed (the
   * proxy listens again on the same port at once and reconnects to the target on the next call).
   *
   * @return how many calls were open
   */
  public synchronized int cutAll() throws IOException, InterruptedException {
    List<OpenCall> calls = open.takeAll();
    for (OpenCall c : calls) {
      counters.fault(FaultKind.CUT_ALL, c.method());
      c.cut(Status.UNAVAILABLE.withDescription("shardopt chaos: connection cut"));
    }
    upstream.reconnect();
    server.shutdownNow();
    if (!server.awaitTermination(5, TimeUnit.SECONDS)) {
      throw new IllegalStateException("the proxy's listener on port " + port + " did not stop within 5 s");
    }
    server = listen(port);
    return calls.size();
  }

  /**
   * Ends the blackhole: removes the blackhole rules, and the calls it held end with UNAVAILABLE.
   *
   * @return how many calls it held
   */
  public int releaseBlackholes() {
    rules.remove(FaultKind.BLACKHOLE);
    return blackhole.releaseAll();
  }

  /** Calls a blackhole holds now. */
  public int blackholed() {
    return blackhole.size();
  }

  /** Stops listening and ends every call (bounded: 5 s for each part). */
  @Override
  public synchronized void close() throws InterruptedException {
    server.shutdownNow();
    server.awaitTermination(5, TimeUnit.SECONDS);
    upstream.close();
    shutdownExecutors();
  }

  private void shutdownExecutors() {
    timer.shutdownNow();
    callbacks.shutdownNow();
  }

  private static ThreadFactory daemon(String prefix) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }
}
