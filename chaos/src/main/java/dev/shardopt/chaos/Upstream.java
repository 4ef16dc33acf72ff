package dev.shardopt.chaos;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.Context;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The proxy's channel to its target. {@link #reconnect()} closes the connection under every call on
 * it and opens a new one, for {@link GrpcFaultProxy#cutAll()}.
 */
final class Upstream implements AutoCloseable {
  private final String target;
  private final AtomicReference<ManagedChannel> channel = new AtomicReference<>();

  Upstream(String target) {
    this.target = target;
    channel.set(open());
  }

  private ManagedChannel open() {
    // No size limit of its own: the target enforces its own.
    ManagedChannel c = NettyChannelBuilder.forTarget(target).usePlaintext().maxInboundMessageSize(Integer.MAX_VALUE)
        .maxInboundMetadataSize(Integer.MAX_VALUE).build();
    c.getState(true); // connect now, so that the first call does not wait for it
    return c;
  }

  String target() {
    return target;
  }

  /**
   * A new call to the target. It is made outside the caller's gRPC context: a call that a held or
   * duplicated request sends later must not end with the context of whichever call's callback sent it.
   * The caller's deadline and cancellation reach it through the options and the relay instead.
   */
  ClientCall<byte[], byte[]> newCall(MethodDescriptor<byte[], byte[]> method, CallOptions options) {
    Context previous = Context.ROOT.attach();
    try {
      return channel.get().newCall(method, options);
    } finally {
      Context.ROOT.detach(previous);
    }
  }

  /** Drops the connection to the target (every call on it fails) and opens a new one. */
  void reconnect() {
    channel.getAndSet(open()).shutdownNow();
  }

  void shutdownNow() {
    channel.get().shutdownNow();
  }

  @Override
  public void close() throws InterruptedException {
    ManagedChannel c = channel.get();
    c.shutdownNow();
    c.awaitTermination(5, TimeUnit.SECONDS);
  }
}
