package dev.shardopt.rpc.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.shardopt.rpc.local.InProcessEndpoints;
import io.grpc.CallOptions;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessSocketAddress;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A process's own channels reach its loopback servers in-process, with the same bytes and checks as a socket. */
class InProcessEndpointsTest {
  @TempDir Path dir;
  private final List<AutoCloseable> open = new CopyOnWriteArrayList<>();
  private final List<AutoCloseable> securities = new CopyOnWriteArrayList<>();
  private final List<SocketAddress> peers = new CopyOnWriteArrayList<>();

  @AfterEach
  void close() throws Exception {
    for (AutoCloseable c : open) {
      c.close();
    }
    for (AutoCloseable c : securities) {
      c.close();
    }
  }

  @Test
  void ownChannelsToALoopbackPortGoInProcessAndOtherProcessesStillUseTheSocket() throws Exception {
    InProcessEndpoints endpoints = new InProcessEndpoints();
    GrpcSecurity security = keep(GrpcSecurity.builder().inProcess(endpoints).build());
    Server server = serve(security, recordingPeers(Echo.service()));
    assertThat(endpoints.ports()).containsExactly(server.getPort());

    assertThat(Echo.call(channel(security, "127.0.0.1:" + server.getPort()), new byte[] {1, 2, 3})).containsExactly(1, 2, 3);
    assertThat(Echo.call(channel(security, "localhost:" + server.getPort()), new byte[] {4})).containsExactly(4);
    // a client without the endpoints (another process, another language) reaches the same service on the socket
    assertThat(Echo.call(channel(keep(GrpcSecurity.plaintext()), "127.0.0.1:" + server.getPort()), new byte[] {5}))
        .containsExactly(5);
    assertThat(peers).hasSize(3);
    assertThat(peers.get(0)).isInstanceOf(InProcessSocketAddress.class);
    assertThat(peers.get(1)).isInstanceOf(InProcessSocketAddress.class);
    assertThat(peers.get(2)).isInstanceOf(InetSocketAddress.class);
  }

  @Test
  void aMessageIsFixedWhenSentEvenIfItsSenderReusesTheArrayRightAfter() throws Exception {
    // Echo's marshaller streams the array itself, lazily, as the data plane streams live float arrays
    // and pooled pull buffers; in-process, the receiver parses later on another thread.
    MethodDescriptor<byte[], byte[]> serverStream = Echo.method("shardopt.test.Echo/Stream").toBuilder()
        .setType(MethodDescriptor.MethodType.SERVER_STREAMING).build();
    MethodDescriptor<byte[], byte[]> clientStream = Echo.method("shardopt.test.Echo/Collect").toBuilder()
        .setType(MethodDescriptor.MethodType.CLIENT_STREAMING).build();
    ServerServiceDefinition service = ServerServiceDefinition.builder("shardopt.test.Echo")
        .addMethod(serverStream, ServerCalls.asyncServerStreamingCall((request, response) -> {
          byte[] reused = new byte[4096];
          for (int round = 0; round < 50; round++) {
            java.util.Arrays.fill(reused, (byte) round);
            response.onNext(reused);
          }
          java.util.Arrays.fill(reused, (byte) -1);
          response.onCompleted();
        }))
        .addMethod(clientStream, ServerCalls.asyncClientStreamingCall(response -> new StreamObserver<byte[]>() {
          final List<Byte> firsts = new ArrayList<>();

          @Override
          public void onNext(byte[] value) {
            for (byte b : value) {
              if (b != value[0]) {
                throw Status.DATA_LOSS.withDescription("a torn message").asRuntimeException();
              }
            }
            firsts.add(value[0]);
          }

          @Override
          public void onError(Throwable t) {}

          @Override
          public void onCompleted() {
            byte[] answer = new byte[firsts.size()];
            for (int i = 0; i < answer.length; i++) {
              answer[i] = firsts.get(i);
            }
            response.onNext(answer);
            response.onCompleted();
          }
        })).build();
    InProcessEndpoints endpoints = new InProcessEndpoints();
    GrpcSecurity security = keep(GrpcSecurity.builder().inProcess(endpoints).build());
    Server server = serve(security, recordingPeers(service));
    ManagedChannel c = channel(security, "127.0.0.1:" + server.getPort());

    Iterator<byte[]> answers = ClientCalls.blockingServerStreamingCall(c, serverStream,
        CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS), new byte[0]);
    List<Integer> seen = new ArrayList<>();
    answers.forEachRemaining(a -> {
      assertThat(a).hasSize(4096).containsOnly(a[0]);
      seen.add((int) a[0]);
    });
    assertThat(seen).isEqualTo(java.util.stream.IntStream.range(0, 50).boxed().toList());

    CompletableFuture<byte[]> collected = new CompletableFuture<>();
    StreamObserver<byte[]> requests = ClientCalls.asyncClientStreamingCall(
        c.newCall(clientStream, CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS)), future(collected));
    byte[] reused = new byte[4096];
    for (int round = 0; round < 50; round++) {
      java.util.Arrays.fill(reused, (byte) round);
      requests.onNext(reused);
    }
    java.util.Arrays.fill(reused, (byte) -1);
    requests.onCompleted();
    byte[] firsts = collected.get(10, TimeUnit.SECONDS);
    for (int i = 0; i < 50; i++) {
      assertThat(firsts[i]).as("message %d", i).isEqualTo((byte) i);
    }
    assertThat(peers).allMatch(p -> p instanceof InProcessSocketAddress);
  }

  @Test
  void tokensAreCheckedInProcessAsOnTheSocket() throws Exception {
    // a method the access policy gives to workers (and admins)
    MethodDescriptor<byte[], byte[]> progress = Echo.method("shardopt.v1.Worker/GetProgress");
    ServerServiceDefinition service = ServerServiceDefinition.builder("shardopt.v1.Worker")
        .addMethod(progress, ServerCalls.asyncUnaryCall((request, response) -> {
          response.onNext(request);
          response.onCompleted();
        })).build();
    InProcessEndpoints endpoints = new InProcessEndpoints();
    AuthTokens tokens = AuthTokens.parse("test", List.of("worker w-1", "trainer t-2"));
    GrpcSecurity server = keep(GrpcSecurity.builder().authTokens(tokens).inProcess(endpoints).build());
    Server s = serve(server, recordingPeers(service));
    String target = "127.0.0.1:" + s.getPort();
    GrpcSecurity none = keep(GrpcSecurity.builder().inProcess(endpoints).build());
    GrpcSecurity trainer = keep(GrpcSecurity.builder().token(BearerToken.of("t-2")).inProcess(endpoints).build());
    GrpcSecurity worker = keep(GrpcSecurity.builder().token(BearerToken.of("w-1")).inProcess(endpoints).build());

    assertThatThrownBy(() -> call(channel(none, target), progress))
        .isInstanceOfSatisfying(StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED));
    assertThatThrownBy(() -> call(channel(trainer, target), progress))
        .isInstanceOfSatisfying(StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED));
    assertThat(call(channel(worker, target), progress)).containsExactly(7);
    assertThat(peers).hasSize(1).allMatch(p -> p instanceof InProcessSocketAddress);
  }

  @Test
  void aStoppedServerLeavesTheEndpointsAndItsCallersSeeItGone() throws Exception {
    InProcessEndpoints endpoints = new InProcessEndpoints();
    GrpcSecurity security = keep(GrpcSecurity.builder().inProcess(endpoints).build());
    Server server = security.start(security.server("127.0.0.1", 0).addService(Echo.service()));
    int port = server.getPort();
    assertThat(Echo.call(channel(security, "127.0.0.1:" + port), new byte[] {1})).containsExactly(1);
    server.shutdownNow();
    assertThat(server.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
    assertThat(server.isTerminated()).isTrue();
    assertThat(endpoints.ports()).isEmpty();
    assertThatThrownBy(() -> Echo.call(channel(security, "127.0.0.1:" + port), new byte[] {1}))
        .isInstanceOfSatisfying(StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE));
  }

  @Test
  void withTlsEveryCallStaysOnTheSocket() throws Exception {
    TestCertificates.Authority ca = TestCertificates.authority(dir, "cluster");
    InProcessEndpoints endpoints = new InProcessEndpoints();
    GrpcSecurity server = keep(GrpcSecurity.builder().tls(ca.issue(dir, "server")).reloadEvery(Duration.ZERO)
        .inProcess(endpoints).build());
    Server s = serve(server, recordingPeers(Echo.service()));
    assertThat(endpoints.ports()).isEmpty();
    GrpcSecurity client = keep(GrpcSecurity.builder().tls(ca.issue(dir, "client")).reloadEvery(Duration.ZERO)
        .inProcess(endpoints).build());
    assertThat(Echo.call(channel(client, "127.0.0.1:" + s.getPort()), new byte[] {9})).containsExactly(9);
    assertThat(peers).hasSize(1).allMatch(p -> p instanceof InetSocketAddress);
  }

  private static byte[] call(ManagedChannel c, MethodDescriptor<byte[], byte[]> m) {
    return ClientCalls.blockingUnaryCall(c, m, CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS), new byte[] {7});
  }

  private static <T> StreamObserver<T> future(CompletableFuture<T> f) {
    return new StreamObserver<>() {
      @Override
      public void onNext(T value) {
        f.complete(value);
      }

      @Override
      public void onError(Throwable t) {
        f.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {}
    };
  }

  private ServerServiceDefinition recordingPeers(ServerServiceDefinition service) {
    return ServerInterceptors.intercept(service, new ServerInterceptor() {
      @Override
      public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call, Metadata headers,
          ServerCallHandler<Q, A> next) {
        peers.add(call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR));
        return next.startCall(call, headers);
      }
    });
  }

  private Server serve(GrpcSecurity security, ServerServiceDefinition service) throws Exception {
    Server s = security.start(security.server("127.0.0.1", 0).addService(service));
    open.add(() -> s.shutdownNow().awaitTermination(10, TimeUnit.SECONDS));
    return s;
  }

  private ManagedChannel channel(GrpcSecurity security, String target) {
    ManagedChannel c = security.channel(target).build();
    open.add(() -> c.shutdownNow().awaitTermination(5, TimeUnit.SECONDS));
    return c;
  }

  private <T extends AutoCloseable> T keep(T c) {
    securities.add(c);
    return c;
  }
}
