package dev.shardopt.client;

import dev.shardopt.rpc.TensorBytes;
import io.grpc.ManagedChannel;
import dev.shardopt.rpc.security.GrpcSecurity;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/** One ManagedChannel per {@code host:port}, made on first use and shut down by {@link #close}. */
final class ChannelPool implements AutoCloseable {
  private final Function<String, ManagedChannel> factory;
  private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();
  private volatile boolean closed;

  /** Channels with {@code security}'s credentials and token. */
  ChannelPool(GrpcSecurity security) {
    this(target -> channel(security, target));
  }

  ChannelPool(Function<String, ManagedChannel> factory) {
    this.factory = factory;
  }

  /** A plaintext channel without a token (loopback tests). */
  static ManagedChannel plaintext(String target) {
    return channel(GrpcSecurity.plaintext(), target);
  }

  /** A Netty channel with {@code security}'s credentials and token that accepts Shardopt's largest messages. */
  static ManagedChannel channel(GrpcSecurity security, String target) {
    return security.channel(target)
        .maxInboundMessageSize(TensorBytes.MAX_MESSAGE_BYTES)
        .build();
  }

  ManagedChannel get(String address) {
    if (closed) {
      throw new IllegalStateException("the cluster client is closed");
    }
    ManagedChannel ch = channels.computeIfAbsent(address, factory);
    if (closed) { // raced with close(): do not leak the channel
      ch.shutdownNow();
      throw new IllegalStateException("the cluster client is closed");
    }
    return ch;
  }

  @Override
  public void close() {
    closed = true;
    List<ManagedChannel> all = new ArrayList<>(channels.values());
    channels.clear();
    all.forEach(ManagedChannel::shutdown);
    shutdownAll(all);
  }

  /** Waits up to 5 s for {@code channels} to finish their calls, then cuts them off. */
  static void shutdownAll(List<ManagedChannel> channels) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    boolean interrupted = false;
    for (ManagedChannel ch : channels) {
      try {
        long left = deadline - System.nanoTime();
        if (left <= 0 || !ch.awaitTermination(left, TimeUnit.NANOSECONDS)) {
          ch.shutdownNow();
        }
      } catch (InterruptedException e) {
        interrupted = true;
        ch.shutdownNow();
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }
}
