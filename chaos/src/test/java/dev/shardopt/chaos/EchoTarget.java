package dev.shardopt.chaos;

import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.MethodDescriptor.MethodType;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The proxy's target in the tests: a real gRPC server on loopback with one small service of UTF-8
 * string messages (no protos), one method per call type, which records what it received: every
 * call's arrival in order, the messages of client streams, the deadlines it saw, the cancellations.
 */
final class EchoTarget implements AutoCloseable {
  static final String SERVICE = "test.Echo";
  static final Metadata.Key<String> CALLER_HEADER = Metadata.Key.of("x-caller", Metadata.ASCII_STRING_MARSHALLER);
  static final Metadata.Key<String> REPLY_HEADER = Metadata.Key.of("x-reply", Metadata.ASCII_STRING_MARSHALLER);
  static final Metadata.Key<String> REPLY_TRAILER = Metadata.Key.of("x-trailer", Metadata.ASCII_STRING_MARSHALLER);

  /** "x" -> "echo:x"; "fail:x" -> FAILED_PRECONDITION "refused x"; the caller's x-caller header comes back in x-reply and x-trailer. */
  static final MethodDescriptor<String, String> UNARY = method("Unary", MethodType.UNARY);
  /** "N": answers "slept N" after N ms; records the deadline it saw. */
  static final MethodDescriptor<String, String> SLOW = method("Slow", MethodType.UNARY);
  /** Waits up to 3 s for a second call on Pair: "together" if one came, "alone" if not. */
  static final MethodDescriptor<String, String> PAIR = method("Pair", MethodType.UNARY);
  /** "n/pace": n messages "0".."n-1", one every pace ms. */
  static final MethodDescriptor<String, String> COUNT = method("Count", MethodType.SERVER_STREAMING);
  /** Every message asked for at once; answers them joined with ','. */
  static final MethodDescriptor<String, String> COLLECT = method("Collect", MethodType.CLIENT_STREAMING);
  /** "re:" + each message, as each arrives. */
  static final MethodDescriptor<String, String> CHAT = method("Chat", MethodType.BIDI_STREAMING);

  private final Server server;
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
  private final java.util.concurrent.ExecutorService waiters = Executors.newCachedThreadPool();
  private final List<String> arrivals = new CopyOnWriteArrayList<>();
  private final List<List<String>> collected = new CopyOnWriteArrayList<>();
  private final List<Long> deadlinesMillis = new CopyOnWriteArrayList<>();
  private final ConcurrentMap<String, AtomicInteger> cancellations = new ConcurrentHashMap<>();
  private final AtomicInteger pairArrivals = new AtomicInteger();
  private volatile CountDownLatch pair = new CountDownLatch(2);

  EchoTarget() throws IOException {
    ServerServiceDefinition service = ServerServiceDefinition.builder(SERVICE)
        .addMethod(UNARY, unary()).addMethod(SLOW, slow()).addMethod(PAIR, pair()).addMethod(COUNT, count())
        .addMethod(COLLECT, collect()).addMethod(CHAT, chat()).build();
    // Callbacks on the transport's thread, in the order of the frames: a message written before a
    // cancellation reaches the service before it. With an executor, gRPC marks the call cancelled as
    // the cancellation arrives and drops messages it has not yet handed over, so a cut after n
    // requests could lose the n-th. No handler blocks: Pair waits on its own threads.
    server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).directExecutor().addService(service)
        .build().start();
  }

  static MethodDescriptor<String, String> method(String name, MethodType type) {
    return MethodDescriptor.newBuilder(new Utf8(), new Utf8()).setFullMethodName(SERVICE + "/" + name).setType(type).build();
  }

  String address() {
    return "127.0.0.1:" + server.getPort();
  }

  /** Every call's arrival in order, as "Method:first message" (the first message: when the target has it). */
  List<String> arrivals() {
    return List.copyOf(arrivals);
  }

  /** Calls of {@code method} (its short name) that arrived. */
  long arrivals(String method) {
    return arrivals.stream().filter(a -> a.startsWith(method + ":")).count();
  }

  /** The messages each Collect call received, one list per call, when it ended (half-close or cancel). */
  List<List<String>> collected() {
    return List.copyOf(collected);
  }

  /** Milliseconds left of the deadline each Slow call saw at its start (-1: none). */
  List<Long> deadlinesMillis() {
    return List.copyOf(deadlinesMillis);
  }

  int cancellations(String method) {
    return cancellations.computeIfAbsent(method, m -> new AtomicInteger()).get();
  }

  /** Waits (at most 5 s) until {@code method} has seen {@code n} cancellations; returns how many it saw. */
  int awaitCancellations(String method, int n) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (cancellations(method) < n && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    return cancellations(method);
  }

  /** Waits (at most 5 s) until {@code n} calls have arrived in all; returns how many did. */
  int awaitArrivals(int n) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (arrivals.size() < n && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    return arrivals.size();
  }

  private void cancelled(String method) {
    cancellations.computeIfAbsent(method, m -> new AtomicInteger()).incrementAndGet();
  }

  private ServerCallHandler<String, String> unary() {
    return (call, headers) -> {
      call.request(1);
      return new ServerCall.Listener<>() {
        String request;

        @Override
        public void onMessage(String m) {
          request = m;
          arrivals.add("Unary:" + m);
        }

        @Override
        public void onHalfClose() {
          Metadata h = new Metadata();
          h.put(REPLY_HEADER, "h-" + headers.get(CALLER_HEADER));
          call.sendHeaders(h);
          Metadata t = new Metadata();
          t.put(REPLY_TRAILER, "t-" + headers.get(CALLER_HEADER));
          if (request.startsWith("fail:")) {
            call.close(Status.FAILED_PRECONDITION.withDescription("refused " + request.substring(5)), t);
          } else {
            call.sendMessage("echo:" + request);
            call.close(Status.OK, t);
          }
        }
      };
    };
  }

  private ServerCallHandler<String, String> slow() {
    return (call, headers) -> {
      Deadline d = Context.current().getDeadline();
      deadlinesMillis.add(d == null ? -1 : d.timeRemaining(TimeUnit.MILLISECONDS));
      call.request(1);
      return new ServerCall.Listener<>() {
        @Override
        public void onMessage(String m) {
          arrivals.add("Slow:" + m);
          timer.schedule(() -> {
            synchronized (call) {
              if (!call.isCancelled()) {
                call.sendHeaders(new Metadata());
                call.sendMessage("slept " + m);
                call.close(Status.OK, new Metadata());
              }
            }
          }, Long.parseLong(m), TimeUnit.MILLISECONDS);
        }

        @Override
        public void onCancel() {
          cancelled("Slow");
        }
      };
    };
  }

  private ServerCallHandler<String, String> pair() {
    return (call, headers) -> {
      call.request(1);
      return new ServerCall.Listener<>() {
        @Override
        public void onMessage(String m) {
          arrivals.add("Pair:" + m);
          CountDownLatch mine = pair;
          mine.countDown();
          if (pairArrivals.incrementAndGet() % 2 == 0) {
            pair = new CountDownLatch(2);
          }
          // waits on a timer thread, not on the call's: the second call's message must get through meanwhile
          waiters.execute(() -> {
            boolean together;
            try {
              together = mine.await(3, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
              together = false;
            }
            synchronized (call) {
              call.sendHeaders(new Metadata());
              call.sendMessage(together ? "together" : "alone");
              call.close(Status.OK, new Metadata());
            }
          });
        }
      };
    };
  }

  private ServerCallHandler<String, String> count() {
    return (call, headers) -> {
      call.request(1);
      return new ServerCall.Listener<>() {
        @Override
        public void onMessage(String m) {
          arrivals.add("Count:" + m);
          String[] nPace = m.split("/");
          int n = Integer.parseInt(nPace[0]);
          long pace = Long.parseLong(nPace[1]);
          synchronized (call) {
            call.sendHeaders(new Metadata());
          }
          send(0, n, pace);
        }

        private void send(int i, int n, long pace) {
          synchronized (call) {
            if (call.isCancelled()) {
              return;
            }
            if (i == n) {
              call.close(Status.OK, new Metadata());
              return;
            }
            call.sendMessage(Integer.toString(i));
          }
          timer.schedule(() -> send(i + 1, n, pace), pace, TimeUnit.MILLISECONDS);
        }

        @Override
        public void onCancel() {
          cancelled("Count");
        }
      };
    };
  }

  private ServerCallHandler<String, String> collect() {
    return (call, headers) -> {
      call.request(Integer.MAX_VALUE); // every message as it arrives, so that a cut loses none already sent
      List<String> got = new ArrayList<>();
      return new ServerCall.Listener<>() {
        @Override
        public void onMessage(String m) {
          if (got.isEmpty()) {
            arrivals.add("Collect:" + m);
          }
          got.add(m);
        }

        @Override
        public void onHalfClose() {
          collected.add(List.copyOf(got));
          call.sendHeaders(new Metadata());
          call.sendMessage(String.join(",", got));
          call.close(Status.OK, new Metadata());
        }

        @Override
        public void onCancel() {
          collected.add(List.copyOf(got));
          cancelled("Collect");
        }
      };
    };
  }

  private ServerCallHandler<String, String> chat() {
    return (call, headers) -> {
      call.request(1);
      call.sendHeaders(new Metadata());
      return new ServerCall.Listener<>() {
        boolean first = true;

        @Override
        public void onMessage(String m) {
          if (first) {
            arrivals.add("Chat:" + m);
            first = false;
          }
          call.sendMessage("re:" + m);
          call.request(1);
        }

        @Override
        public void onHalfClose() {
          call.close(Status.OK, new Metadata());
        }

        @Override
        public void onCancel() {
          cancelled("Chat");
        }
      };
    };
  }

  @Override
  public void close() throws InterruptedException {
    server.shutdownNow();
    server.awaitTermination(5, TimeUnit.SECONDS);
    timer.shutdownNow();
    waiters.shutdownNow();
  }

  /** UTF-8 strings as messages. */
  static final class Utf8 implements MethodDescriptor.Marshaller<String> {
    @Override
    public InputStream stream(String value) {
      return new ByteArrayInputStream(value.getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public String parse(InputStream stream) {
      try {
        return new String(stream.readAllBytes(), StandardCharsets.UTF_8);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }
}
