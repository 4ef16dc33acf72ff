package dev.shardopt.bench.cluster;

import dev.shardopt.bench.cluster.FlowMessages.Ack;
import dev.shardopt.bench.cluster.FlowMessages.Msg;
import dev.shardopt.bench.cluster.FlowMessages.Received;
import dev.shardopt.rpc.TensorBytes;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One copy of a shard group in {@link ReplicationFlowBenchmark}: a gRPC server on 127.0.0.1, built
 * like a worker's (Netty, cached-thread-pool executor, the same maximum message size), that
 * receives gradient streams into float[] slots and, once the step's expected streams are all in,
 * does what its {@link Plan} says: reduce the K trainers' gradients to their mean (a reused
 * float[]), forward that mean to other replicas over its own channels (the chain's primary), and
 * only then acknowledge every stream of the step. No update kernel: both flows would run the same
 * one on every copy.
 */
final class ReplicaNode implements AutoCloseable {
  /**
   * What this replica does in one step: wait for {@code streams} streams; reduce slots 0..K-1 to
   * their mean if {@code reduceK} > 0; then send the mean to every {@code forwardTo} channel and wait
   * for their acknowledgements before acknowledging its own streams.
   */
  record Plan(long step, int streams, int reduceK, List<ManagedChannel> forwardTo, long timeoutMillis) {}

  final String name;
  private final ExecutorService executor;
  private final Server server;
  private final float[][] slots;
  private final float[] mean;
  private final AtomicLong dataBytes = new AtomicLong();
  private final List<Pending> pending = new ArrayList<>(); // guarded by this
  private volatile Plan plan;
  private volatile long allReceivedNanos;
  private volatile long reducedNanos;
  private volatile long forwardedNanos;

  /** A finished stream waiting for the step's acknowledgement. */
  private record Pending(StreamObserver<Msg> response, long bytes) {}

  ReplicaNode(String name, int slots, int floats) throws IOException {
    this.name = name;
    this.slots = new float[slots][floats];
    this.mean = new float[floats];
    AtomicInteger n = new AtomicInteger();
    executor = Executors.newCachedThreadPool(r -> {
      Thread t = new Thread(r, name + "-rpc-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
    ServerServiceDefinition service = ServerServiceDefinition.builder("shardopt.bench.v1.Replica")
        .addMethod(FlowMessages.PUSH, ServerCalls.asyncClientStreamingCall(this::receive))
        .build();
    server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(service)
        .maxInboundMessageSize(TensorBytes.MAX_MESSAGE_BYTES)
        .executor(executor)
        .build()
        .start();
  }

  /** A new channel to this replica, built like the client's and the workers' (one per caller). */
  ManagedChannel channel() {
    return NettyChannelBuilder.forTarget("127.0.0.1:" + server.getPort())
        .usePlaintext()
        .maxInboundMessageSize(TensorBytes.MAX_MESSAGE_BYTES)
        .build();
  }

  /** Sets the next step's plan and clears the byte count; call before any stream of the step starts. */
  void expect(Plan next) {
    synchronized (this) {
      if (!pending.isEmpty()) {
        throw new IllegalStateException(name + ": " + pending.size() + " streams of the last step still pending");
      }
    }
    dataBytes.set(0);
    allReceivedNanos = 0;
    reducedNanos = 0;
    forwardedNanos = 0;
    plan = next;
  }

  long dataBytes() {
    return dataBytes.get();
  }

  float[] slot(int i) {
    return slots[i];
  }

  int slotCount() {
    return slots.length;
  }

  float[] mean() {
    return mean;
  }

  long allReceivedNanos() {
    return allReceivedNanos;
  }

  long reducedNanos() {
    return reducedNanos;
  }

  long forwardedNanos() {
    return forwardedNanos;
  }

  /** Sends {@code src} as one stream of step {@code step} into {@code slot} of the replica behind {@code channel}. */
  static CompletableFuture<Long> send(ManagedChannel channel, long step, int slot, float[] src, long timeoutMillis) {
    CallOptions options = CallOptions.DEFAULT.withDeadlineAfter(timeoutMillis, TimeUnit.MILLISECONDS);
    return FlowSender.<Msg, Msg>send(
        obs -> ClientCalls.asyncClientStreamingCall(channel.newCall(FlowMessages.PUSH, options), obs),
        FlowMessages.stream(step, slot, src))
        .thenApply(m -> ((Received) m).ack());
  }

  private StreamObserver<Msg> receive(StreamObserver<Msg> response) {
    return new StreamObserver<>() {
      int slot = -1;
      int offset;
      long bytes;

      @Override
      public void onNext(Msg m) {
        Received r = (Received) m;
        if (slot < 0) {
          FlowMessages.Header h = r.header();
          Plan p = plan;
          if (p == null || h.step() != p.step() || h.slot() < 0 || h.slot() >= slots.length) {
            throw Status.FAILED_PRECONDITION.withDescription(name + ": unexpected header " + h + " for plan " + p)
                .asRuntimeException();
          }
          slot = h.slot();
          return;
        }
        offset += r.decodeInto(slots[slot], offset);
        bytes += r.length();
      }

      @Override
      public void onError(Throwable t) {
        // The caller's future fails with its deadline or the cancellation; nothing to acknowledge.
      }

      @Override
      public void onCompleted() {
        dataBytes.addAndGet(bytes);
        boolean last;
        synchronized (ReplicaNode.this) {
          pending.add(new Pending(response, bytes));
          last = pending.size() == plan.streams();
        }
        if (last) {
          finishStep();
        }
      }
    };
  }

  /** All of the step's streams are in: reduce, forward, then acknowledge them (on this rpc thread). */
  private void finishStep() {
    Plan p = plan;
    allReceivedNanos = System.nanoTime();
    if (p.reduceK() > 0) {
      reduceMean(p.reduceK());
    }
    reducedNanos = System.nanoTime();
    if (p.forwardTo().isEmpty()) {
      acknowledge(null);
      return;
    }
    List<CompletableFuture<Long>> sent = new ArrayList<>();
    for (ManagedChannel c : p.forwardTo()) {
      sent.add(send(c, p.step(), 0, mean, p.timeoutMillis()));
    }
    CompletableFuture.allOf(sent.toArray(CompletableFuture[]::new)).whenComplete((v, e) -> {
      forwardedNanos = System.nanoTime();
      acknowledge(e);
    });
  }

  /**
   * The trainer mean in trainer order (as the worker's ShardGroup: sum of slots 0..K-1, then divide
   * by K), one thread: the worker's per-step reduction that every copy does under fan-out and only
   * the primary does in a chain.
   */
  private void reduceMean(int k) {
    float kf = k;
    float[] first = slots[0];
    for (int i = 0; i < mean.length; i++) {
      mean[i] = first[i];
    }
    for (int s = 1; s < k; s++) {
      float[] g = slots[s];
      for (int i = 0; i < mean.length; i++) {
        mean[i] += g[i];
      }
    }
    for (int i = 0; i < mean.length; i++) {
      mean[i] /= kf;
    }
  }

  private void acknowledge(Throwable failure) {
    List<Pending> done;
    synchronized (this) {
      done = new ArrayList<>(pending);
      pending.clear();
    }
    for (Pending d : done) {
      if (failure == null) {
        d.response().onNext(new Ack(d.bytes()));
        d.response().onCompleted();
      } else {
        d.response().onError(Status.UNAVAILABLE.withDescription(name + ": forwarding failed: " + failure)
            .asRuntimeException());
      }
    }
  }

  @Override
  public void close() {
    server.shutdownNow();
    try {
      server.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    executor.shutdownNow();
  }
}
