package dev.shardopt.bench.cluster;

import com.google.protobuf.ByteString;
import dev.shardopt.rpc.TensorBytes;
import dev.shardopt.v1.PullRequest;
import dev.shardopt.v1.PullResponse;
import dev.shardopt.v1.PushHeader;
import dev.shardopt.v1.PushRequest;
import dev.shardopt.v1.PushResponse;
import dev.shardopt.v1.TensorChunk;
import dev.shardopt.v1.WorkerGrpc;
import io.grpc.CallOptions;
import io.grpc.Drainable;
import io.grpc.KnownLength;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The baseline: a minimal gRPC service on a Netty server on 127.0.0.1 that discards what it is sent
 * and streams back pre-made data, built exactly like a worker's server (Netty, cached-thread-pool
 * executor, the same maximum inbound message size) and called through a channel built exactly like
 * the client's worker channels.
 *
 * <p>Two flavours of each direction:
 *
 * <ul>
 *   <li><b>raw</b>: {@code bytes} messages with a plain byte marshaller. The sender hands gRPC one
 *       pre-filled 4 MiB array per message (copied once into Netty's buffers); the receiver copies
 *       each message once out of Netty's buffers into a reused per-thread array. This is the
 *       transport alone: the least any heap-based sender and receiver of 4 MiB messages can do.
 *   <li><b>proto</b>: the Worker service's own methods and message types ({@code PushRequest},
 *       {@code PullResponse} carrying a {@code TensorChunk} of 4 MiB), with protobuf's generated
 *       marshallers and a handler that discards the data. The payload is pre-encoded, so this adds
 *       protobuf's serialization and parsing (and its allocation of each received {@code bytes}
 *       field) to the transport, but none of Shardopt's float conversion or bookkeeping.
 *   <li><b>keep</b>: raw, except that the receiver copies each message to its own place in a 64 MiB
 *       array, as a receiver that keeps the data must (a worker its gradient, a trainer its
 *       parameters), instead of into a reused 4 MiB array that stays in the cache. The same one
 *       copy, into memory the cache does not hold.
 * </ul>
 *
 * <p>Both use gRPC flow control the way Shardopt does: the sender produces a message only while
 * the call {@code isReady()}, from its on-ready handler.
 */
final class LoopbackSink implements AutoCloseable {
  // The issue defines the baseline with 4 MiB messages; 64 MiB is 16 of them. Shardopt itself sends
  // TensorBytes.DEFAULT_CHUNK_BYTES (4 MiB less 64 KiB, inside gRPC's parse fast path).
  static final int CHUNK_BYTES = 4 << 20;
  private static final String SERVICE = "shardopt.bench.v1.Sink";
  private static final ThreadLocal<byte[]> RECEIVE_BUFFER =
      ThreadLocal.withInitial(() -> new byte[TensorBytes.MAX_MESSAGE_BYTES]);

  /** A message of the raw flavour: the first {@code length} bytes of {@code data}. */
  record Payload(byte[] data, int length) {}

  /** One copy out (into gRPC's buffers) and one copy in (into a reused per-thread array). */
  static final MethodDescriptor.Marshaller<Payload> RAW = new MethodDescriptor.Marshaller<>() {
    @Override
    public InputStream stream(Payload p) {
      return new PayloadStream(p);
    }

    @Override
    public Payload parse(InputStream in) {
      try {
        byte[] buf = RECEIVE_BUFFER.get();
        return new Payload(buf, BenchProcess.readMessage(in, buf));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  };

  static final MethodDescriptor<Payload, Payload> RAW_PUSH = MethodDescriptor.<Payload, Payload>newBuilder()
      .setType(MethodDescriptor.MethodType.CLIENT_STREAMING)
      .setFullMethodName(MethodDescriptor.generateFullMethodName(SERVICE, "Push"))
      .setRequestMarshaller(RAW).setResponseMarshaller(RAW).build();

  static final MethodDescriptor<Payload, Payload> RAW_PULL = MethodDescriptor.<Payload, Payload>newBuilder()
      .setType(MethodDescriptor.MethodType.SERVER_STREAMING)
      .setFullMethodName(MethodDescriptor.generateFullMethodName(SERVICE, "Pull"))
      .setRequestMarshaller(RAW).setResponseMarshaller(RAW).build();

  /**
   * The keep flavour's receiving side: message k of a stream goes to bytes [4 MiB × k, 4 MiB × (k + 1))
   * of a 64 MiB array, wrapping. One stream at a time per instance (the rows that use it are
   * single-stream); the array is allocated at the first message.
   */
  static final class KeepingMarshaller implements MethodDescriptor.Marshaller<Payload> {
    static final int KEPT_BYTES = 64 << 20;
    private byte[] kept;
    private long next;

    @Override
    public InputStream stream(Payload p) {
      return new PayloadStream(p);
    }

    @Override
    public Payload parse(InputStream in) {
      byte[] into;
      int at;
      synchronized (this) {
        if (kept == null) {
          kept = new byte[KEPT_BYTES];
        }
        into = kept;
        at = (int) (next % KEPT_BYTES);
        next += CHUNK_BYTES;
      }
      try {
        return new Payload(into, BenchProcess.readMessage(in, into, at, CHUNK_BYTES));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }

  private final MethodDescriptor<Payload, Payload> keepPush = MethodDescriptor.<Payload, Payload>newBuilder()
      .setType(MethodDescriptor.MethodType.CLIENT_STREAMING)
      .setFullMethodName(MethodDescriptor.generateFullMethodName(SERVICE, "KeepPush"))
      .setRequestMarshaller(new KeepingMarshaller()).setResponseMarshaller(RAW).build();

  private final MethodDescriptor<Payload, Payload> keepPull = MethodDescriptor.<Payload, Payload>newBuilder()
      .setType(MethodDescriptor.MethodType.SERVER_STREAMING)
      .setFullMethodName(MethodDescriptor.generateFullMethodName(SERVICE, "KeepPull"))
      .setRequestMarshaller(RAW).setResponseMarshaller(new KeepingMarshaller()).build();

  /** The payload every message carries: 4 MiB of non-trivial bytes. */
  private static final byte[] DATA = filled(CHUNK_BYTES);
  private static final ByteString DATA_BYTES = ByteString.copyFrom(DATA);

  private final ExecutorService executor;
  private final Server server;
  private final ManagedChannel channel;

  private static final AtomicInteger IN_PROCESS_NAMES = new AtomicInteger();

  /** On Netty, 127.0.0.1: the baseline. */
  LoopbackSink() throws IOException {
    this(false);
  }

  /**
   * The same service and client on gRPC's in-process transport (no socket, no HTTP/2 framing): the
   * transport passes each message's stream from the sender's marshaller to the receiver's parse, so
   * a raw message is copied once (into the receiver's reused array) and a protobuf message is handed
   * over as the object itself (protobuf's marshaller recognises its own stream), with no copy.
   */
  static LoopbackSink inProcess() throws IOException {
    return new LoopbackSink(true);
  }

  private LoopbackSink(boolean inProcess) throws IOException {
    AtomicInteger n = new AtomicInteger();
    // As WorkerServer: a cached thread pool of daemon threads.
    executor = Executors.newCachedThreadPool(r -> {
      Thread t = new Thread(r, "sink-rpc-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
    ServerServiceDefinition raw = ServerServiceDefinition.builder(SERVICE)
        .addMethod(RAW_PUSH, ServerCalls.asyncClientStreamingCall(LoopbackSink::rawPush))
        .addMethod(RAW_PULL, ServerCalls.asyncServerStreamingCall(LoopbackSink::rawPull))
        .addMethod(keepPush, ServerCalls.asyncClientStreamingCall(LoopbackSink::rawPush))
        .addMethod(keepPull, ServerCalls.asyncServerStreamingCall(LoopbackSink::rawPull))
        .build();
    if (inProcess) {
      String name = "shardopt-bench-sink-" + IN_PROCESS_NAMES.incrementAndGet();
      server = InProcessServerBuilder.forName(name)
          .addService(raw)
          .addService(new DiscardingWorker())
          .maxInboundMessageSize(TensorBytes.MAX_MESSAGE_BYTES)
          .executor(executor)
          .build()
          .start();
      channel = InProcessChannelBuilder.forName(name)
          .maxInboundMessageSize(TensorBytes.MAX_MESSAGE_BYTES)
          .build();
      return;
    }
    server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(raw)
        .addService(new DiscardingWorker())
        .maxInboundMessageSize(TensorBytes.MAX_MESSAGE_BYTES)
        .executor(executor)
        .build()
        .start();
    // As the client's ChannelPool.plaintext.
    channel = NettyChannelBuilder.forTarget("127.0.0.1:" + server.getPort())
        .usePlaintext()
        .maxInboundMessageSize(TensorBytes.MAX_MESSAGE_BYTES)
        .build();
  }

  // ------------------------------------------------------------------------------ server side

  private static StreamObserver<Payload> rawPush(StreamObserver<Payload> response) {
    return new StreamObserver<>() {
      long bytes;

      @Override
      public void onNext(Payload p) {
        bytes += p.length();
      }

      @Override
      public void onError(Throwable t) {}

      @Override
      public void onCompleted() {
        response.onNext(new Payload(ByteBuffer.allocate(8).putLong(0, bytes).array(), 8));
        response.onCompleted();
      }
    };
  }

  private static void rawPull(Payload request, StreamObserver<Payload> response) {
    int messages = ByteBuffer.wrap(request.data(), 0, request.length()).getInt(0);
    Payload p = new Payload(DATA, DATA.length);
    send((ServerCallStreamObserver<Payload>) response, Collections.nCopies(messages, p).iterator());
  }

  /** The Worker service with handlers that discard pushes and stream a pre-made pull. */
  private static final class DiscardingWorker extends WorkerGrpc.WorkerImplBase {
    @Override
    public StreamObserver<PushRequest> push(StreamObserver<PushResponse> response) {
      return new StreamObserver<>() {
        long bytes;
        long step = -1;

        @Override
        public void onNext(PushRequest r) {
          if (r.hasHeader()) {
            step = r.getHeader().getStep();
          }
          bytes += r.getChunk().getData().size();
        }

        @Override
        public void onError(Throwable t) {}

        @Override
        public void onCompleted() {
          response.onNext(PushResponse.newBuilder().setStep(step).setModelStep(bytes).build());
          response.onCompleted();
        }
      };
    }

    @Override
    public void pull(PullRequest request, StreamObserver<PullResponse> response) {
      int messages = (int) request.getMinStep(); // the message count, for this sink
      List<PullResponse> out = new ArrayList<>(messages);
      for (int i = 0; i < messages; i++) {
        out.add(PullResponse.newBuilder().setStep(1).setChunk(TensorChunk.newBuilder()
            .setTensor("w").setOffset((long) i * (CHUNK_BYTES / 4)).setData(DATA_BYTES)).build());
      }
      send((ServerCallStreamObserver<PullResponse>) response, out.iterator());
    }
  }

  /** Sends {@code messages} while the transport is ready (as the worker's FlowControlledSender). */
  private static <T> void send(ServerCallStreamObserver<T> call, Iterator<T> messages) {
    Object lock = new Object();
    boolean[] done = new boolean[1];
    Runnable drain = () -> {
      synchronized (lock) {
        if (done[0]) {
          return;
        }
        while (call.isReady() && messages.hasNext()) {
          call.onNext(messages.next());
        }
        if (!messages.hasNext()) {
          done[0] = true;
          call.onCompleted();
        }
      }
    };
    call.setOnReadyHandler(drain);
    call.setOnCancelHandler(() -> {
      synchronized (lock) {
        done[0] = true;
      }
    });
    drain.run();
  }

  // ------------------------------------------------------------------------------ client side

  private CallOptions options(long timeoutMillis) {
    return CallOptions.DEFAULT.withDeadlineAfter(timeoutMillis, TimeUnit.MILLISECONDS);
  }

  /** Starts a raw client stream of {@code messages} 4 MiB messages; completes with the bytes the server counted. */
  CompletableFuture<Long> rawPush(int messages, long timeoutMillis) {
    return push(RAW_PUSH, messages, timeoutMillis);
  }

  /** Starts a raw server stream of {@code messages} 4 MiB messages; completes with the bytes received. */
  CompletableFuture<Long> rawPull(int messages, long timeoutMillis) {
    return pull(RAW_PULL, messages, timeoutMillis);
  }

  /** As {@link #rawPush}, the server keeping every message in its own place of a 64 MiB array. */
  CompletableFuture<Long> keepPush(int messages, long timeoutMillis) {
    return push(keepPush, messages, timeoutMillis);
  }

  /** As {@link #rawPull}, the client keeping every message in its own place of a 64 MiB array. */
  CompletableFuture<Long> keepPull(int messages, long timeoutMillis) {
    return pull(keepPull, messages, timeoutMillis);
  }

  private CompletableFuture<Long> push(MethodDescriptor<Payload, Payload> method, int messages, long timeoutMillis) {
    Payload p = new Payload(DATA, DATA.length);
    return FlowSender.<Payload, Payload>send(
        obs -> ClientCalls.asyncClientStreamingCall(channel.newCall(method, options(timeoutMillis)), obs),
        Collections.nCopies(messages, p).iterator())
        .thenApply(r -> ByteBuffer.wrap(r.data(), 0, r.length()).getLong(0));
  }

  private CompletableFuture<Long> pull(MethodDescriptor<Payload, Payload> method, int messages, long timeoutMillis) {
    Payload req = new Payload(ByteBuffer.allocate(4).putInt(0, messages).array(), 4);
    CountingObserver<Payload> obs = new CountingObserver<>(Payload::length);
    ClientCalls.asyncServerStreamingCall(channel.newCall(method, options(timeoutMillis)), req, obs);
    return obs.done;
  }

  /** A Worker.Push of {@code messages} pre-encoded 4 MiB chunks after a header message. */
  CompletableFuture<Long> protoPush(int messages, long timeoutMillis) {
    List<PushRequest> out = new ArrayList<>(messages + 1);
    out.add(PushRequest.newBuilder().setHeader(PushHeader.newBuilder().setModel("models/sink").setStep(7)).build());
    for (int i = 0; i < messages; i++) {
      out.add(PushRequest.newBuilder().setChunk(TensorChunk.newBuilder()
          .setTensor("w").setOffset((long) i * (CHUNK_BYTES / 4)).setData(DATA_BYTES)).build());
    }
    WorkerGrpc.WorkerStub stub = WorkerGrpc.newStub(channel)
        .withDeadlineAfter(timeoutMillis, TimeUnit.MILLISECONDS);
    return FlowSender.send(stub::push, out.iterator()).thenApply(PushResponse::getModelStep);
  }

  /** A Worker.Pull answered with {@code messages} pre-encoded 4 MiB chunks. */
  CompletableFuture<Long> protoPull(int messages, long timeoutMillis) {
    CountingObserver<PullResponse> obs = new CountingObserver<>(r -> r.getChunk().getData().size());
    WorkerGrpc.newStub(channel).withDeadlineAfter(timeoutMillis, TimeUnit.MILLISECONDS)
        .pull(PullRequest.newBuilder().setModel("models/sink").setMinStep(messages).build(), obs);
    return obs.done;
  }

  @Override
  public void close() {
    channel.shutdownNow();
    server.shutdownNow();
    try {
      channel.awaitTermination(5, TimeUnit.SECONDS);
      server.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    executor.shutdownNow();
  }

  private static byte[] filled(int n) {
    byte[] b = new byte[n];
    java.nio.FloatBuffer f = ByteBuffer.wrap(b).order(java.nio.ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
    for (int i = 0; i < n / 4; i++) {
      f.put(i, ((i % 2001) - 1000) * 1e-6f);
    }
    return b;
  }

  /** Counts the bytes of a server stream; completes when it ends. */
  private static final class CountingObserver<T> implements StreamObserver<T> {
    final CompletableFuture<Long> done = new CompletableFuture<>();
    private final java.util.function.ToIntFunction<T> size;
    private long bytes;

    CountingObserver(java.util.function.ToIntFunction<T> size) {
      this.size = size;
    }

    @Override
    public void onNext(T value) {
      bytes += size.applyAsInt(value);
    }

    @Override
    public void onError(Throwable t) {
      done.completeExceptionally(t);
    }

    @Override
    public void onCompleted() {
      done.complete(bytes);
    }
  }

  /** The raw payload as a stream gRPC drains with one write (as protobuf's Drainable stream does). */
  private static final class PayloadStream extends InputStream implements Drainable, KnownLength {
    private final Payload p;
    private int pos;

    PayloadStream(Payload p) {
      this.p = p;
    }

    @Override
    public int drainTo(OutputStream target) throws IOException {
      int n = p.length() - pos;
      target.write(p.data(), pos, n);
      pos = p.length();
      return n;
    }

    @Override
    public int available() {
      return p.length() - pos;
    }

    @Override
    public int read() {
      return pos < p.length() ? p.data()[pos++] & 0xff : -1;
    }

    @Override
    public int read(byte[] b, int off, int len) {
      if (pos >= p.length()) {
        return -1;
      }
      int n = Math.min(len, p.length() - pos);
      System.arraycopy(p.data(), pos, b, off, n);
      pos += n;
      return n;
    }
  }
}
