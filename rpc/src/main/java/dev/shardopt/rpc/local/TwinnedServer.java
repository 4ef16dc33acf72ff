package dev.shardopt.rpc.local;

import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import java.net.SocketAddress;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;

/** A loopback server and its in-process twin, started, stopped and awaited as one. */
final class TwinnedServer extends Server {
  private final Server loopback;
  private final Server twin;
  private final ExecutorService twinExecutor;
  private final Runnable unregister;

  TwinnedServer(Server loopback, Server twin, ExecutorService twinExecutor, Runnable unregister) {
    this.loopback = loopback;
    this.twin = twin;
    this.twinExecutor = twinExecutor;
    this.unregister = unregister;
  }

  @Override
  public Server start() {
    throw new IllegalStateException("already started");
  }

  @Override
  public int getPort() {
    return loopback.getPort();
  }

  @Override
  public List<? extends SocketAddress> getListenSockets() {
    return loopback.getListenSockets();
  }

  @Override
  public List<ServerServiceDefinition> getServices() {
    return loopback.getServices();
  }

  @Override
  public List<ServerServiceDefinition> getImmutableServices() {
    return loopback.getImmutableServices();
  }

  @Override
  public List<ServerServiceDefinition> getMutableServices() {
    return loopback.getMutableServices();
  }

  @Override
  public Server shutdown() {
    unregister.run();
    twin.shutdown();
    loopback.shutdown();
    twinExecutor.shutdown();
    return this;
  }

  @Override
  public Server shutdownNow() {
    unregister.run();
    twin.shutdownNow();
    loopback.shutdownNow();
    twinExecutor.shutdownNow();
    return this;
  }

  @Override
  public boolean isShutdown() {
    return loopback.isShutdown() && twin.isShutdown();
  }

  @Override
  public boolean isTerminated() {
    return loopback.isTerminated() && twin.isTerminated();
  }

  @Override
  public boolean awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
    long deadline = System.nanoTime() + unit.toNanos(timeout);
    boolean done = loopback.awaitTermination(timeout, unit);
    long left = deadline - System.nanoTime();
    return twin.awaitTermination(Math.max(0, left), TimeUnit.NANOSECONDS) && done;
  }

  @Override
  public void awaitTermination() throws InterruptedException {
    loopback.awaitTermination();
    twin.awaitTermination();
  }
}
