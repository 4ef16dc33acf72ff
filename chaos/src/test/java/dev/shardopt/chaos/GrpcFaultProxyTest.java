package dev.shardopt.chaos;

import static dev.shardopt.chaos.EchoTarget.CALLER_HEADER;
import static dev.shardopt.chaos.EchoTarget.CHAT;
import static dev.shardopt.chaos.EchoTarget.COLLECT;
import static dev.shardopt.chaos.EchoTarget.COUNT;
import static dev.shardopt.chaos.EchoTarget.PAIR;
import static dev.shardopt.chaos.EchoTarget.REPLY_HEADER;
import static dev.shardopt.chaos.EchoTarget.REPLY_TRAILER;
import static dev.shardopt.chaos.EchoTarget.SLOW;
import static dev.shardopt.chaos.EchoTarget.UNARY;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.CallOptions;
import io.grpc.ClientInterceptors;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The proxy between a caller and a real gRPC server on loopback: everything passes untouched without
 * faults, and each fault is seen where it should be, at the target (which counts what it received)
 * and at the caller.
 */
class GrpcFaultProxyTest {
  private static final String U = UNARY.getFullMethodName();

  private EchoTarget target;
  private GrpcFaultProxy proxy;
  private ManagedChannel channel;

  @BeforeEach
  void start() throws Exception {
    target = new EchoTarget();
    proxy = GrpcFaultProxy.start(target.address());
    channel = NettyChannelBuilder.forTarget(proxy.address()).usePlaintext().build();
  }

  @AfterEach
  void stop() throws Exception {
    channel.shutdownNow();
    channel.awaitTermination(5, TimeUnit.SECONDS);
    proxy.close();
    target.close();
  }

  private static CallOptions fiveSeconds() {
    return CallOptions.DEFAULT.withDeadlineAfter(5, TimeUnit.SECONDS);
  }

  private String unary(String request) {
    return ClientCalls.blockingUnaryCall(channel, UNARY, fiveSeconds(), request);
  }

  private static Status failure(Runnable call) {
    try {
      call.run();
    } catch (StatusRuntimeException e) {
      return e.getStatus();
    }
    throw new AssertionError("the call succeeded");
  }

  /** Starts a unary call and returns its answer (or failure) later. */
  private CompletableFuture<String> unaryAsync(MethodDescriptor<String, String> method, String request, CallOptions options) {
    CompletableFuture<String> answer = new CompletableFuture<>();
    ClientCalls.asyncUnaryCall(channel.newCall(method, options), request, new StreamObserver<>() {
      @Override
      public void onNext(String value) {
        answer.complete(value);
      }

      @Override
      public void onError(Throwable t) {
        answer.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {
      }
    });
    return answer;
  }

  private static Status statusOf(CompletableFuture<String> answer) throws Exception {
    try {
      answer.get(5, TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException e) {
      return Status.fromThrowable(e.getCause());
    }
    throw new AssertionError("the call succeeded");
  }

  @Test
  void passesAUnaryCallWithItsHeadersTrailersAndStatus() {
    Metadata sent = new Metadata();
    sent.put(CALLER_HEADER, "alice");
    AtomicReference<Metadata> headers = new AtomicReference<>();
    AtomicReference<Metadata> trailers = new AtomicReference<>();
    io.grpc.Channel withMetadata = ClientInterceptors.intercept(channel,
        MetadataUtils.newAttachHeadersInterceptor(sent), MetadataUtils.newCaptureMetadataInterceptor(headers, trailers));

    assertThat(ClientCalls.blockingUnaryCall(withMetadata, UNARY, fiveSeconds(), "hello")).isEqualTo("echo:hello");
    assertThat(headers.get().get(REPLY_HEADER)).isEqualTo("h-alice");
    assertThat(trailers.get().get(REPLY_TRAILER)).isEqualTo("t-alice");

    Status refused = failure(() -> ClientCalls.blockingUnaryCall(withMetadata, UNARY, fiveSeconds(), "fail:bob"));
    assertThat(refused.getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(refused.getDescription()).isEqualTo("refused bob");
    assertThat(trailers.get().get(REPLY_TRAILER)).isEqualTo("t-alice");

    assertThat(target.arrivals()).containsExactly("Unary:hello", "Unary:fail:bob");
    assertThat(proxy.counters().calls(U)).isEqualTo(2);
    assertThat(proxy.counters().snapshot()).isEmpty();
  }

  @Test
  void passesServerClientAndBidiStreams() throws Exception {
    List<String> counted = new ArrayList<>();
    ClientCalls.blockingServerStreamingCall(channel, COUNT, fiveSeconds(), "5/0").forEachRemaining(counted::add);
    assertThat(counted).containsExactly("0", "1", "2", "3", "4");

    assertThat(collect(List.of("a", "b", "c", "d")).get(5, TimeUnit.SECONDS)).isEqualTo("a,b,c,d");
    assertThat(target.collected()).containsExactly(List.of("a", "b", "c", "d"));

    // bidi, live: each answer comes back before the next message is sent
    BlockingQueue<String> answers = new LinkedBlockingQueue<>();
    CompletableFuture<Void> done = new CompletableFuture<>();
    StreamObserver<String> requests = ClientCalls.asyncBidiStreamingCall(channel.newCall(CHAT, fiveSeconds()),
        observer(answers, done));
    for (String m : List.of("x", "y", "z")) {
      requests.onNext(m);
      assertThat(answers.poll(5, TimeUnit.SECONDS)).isEqualTo("re:" + m);
    }
    requests.onCompleted();
    done.get(5, TimeUnit.SECONDS);
    assertThat(answers).isEmpty();
  }

  @Test
  void passesTheCallersDeadlineToTheTarget() throws Exception {
    assertThat(ClientCalls.blockingUnaryCall(channel, SLOW, CallOptions.DEFAULT.withDeadlineAfter(3, TimeUnit.SECONDS), "10"))
        .isEqualTo("slept 10");
    assertThat(ClientCalls.blockingUnaryCall(channel, SLOW, CallOptions.DEFAULT, "10")).isEqualTo("slept 10");
    assertThat(target.deadlinesMillis()).hasSize(2);
    assertThat(target.deadlinesMillis().get(0)).isBetween(1L, 3000L);
    assertThat(target.deadlinesMillis().get(1)).isEqualTo(-1L); // none given, none invented

    // a call that outlives its deadline: DEADLINE_EXCEEDED for the caller, cancelled at the target
    Status late = failure(() -> ClientCalls.blockingUnaryCall(channel, SLOW,
        CallOptions.DEFAULT.withDeadlineAfter(200, TimeUnit.MILLISECONDS), "5000"));
    assertThat(late.getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
    assertThat(target.awaitCancellations("Slow", 1)).isEqualTo(1);
  }

  @Test
  void aDroppedRequestNeverReachesTheTarget() {
    proxy.rules().inject(MethodMatch.exact(U), Fault.dropRequest(), 1);

    Status dropped = failure(() -> unary("lost"));
    assertThat(dropped.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(dropped.getDescription()).contains("request was dropped");
    assertThat(target.arrivals()).isEmpty();

    assertThat(unary("next")).isEqualTo("echo:next"); // the rule was for one call
    assertThat(target.arrivals()).containsExactly("Unary:next");
    assertThat(proxy.counters().count(FaultKind.DROP_REQUEST, U)).isEqualTo(1);
    assertThat(proxy.counters().calls(U)).isEqualTo(2);
  }

  @Test
  void aDroppedResponseIsAppliedByTheTargetAndLostToTheCaller() throws Exception {
    proxy.rules().inject(MethodMatch.exact(U), Fault.dropResponse(), 1);

    Status lost = failure(() -> unary("applied"));
    assertThat(lost.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(lost.getDescription()).contains("response was dropped (the target answered OK)");
    assertThat(target.arrivals()).containsExactly("Unary:applied");
    assertThat(proxy.counters().count(FaultKind.DROP_RESPONSE, U)).isEqualTo(1);

    // a stream: the target gets every message and finishes; the caller gets nothing but UNAVAILABLE
    proxy.rules().inject(MethodMatch.exact(COLLECT.getFullMethodName()), Fault.dropResponse(), 1);
    assertThat(statusOf(collect(List.of("p", "q")))).extracting(Status::getCode).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(target.collected()).containsExactly(List.of("p", "q"));
  }

  @Test
  void aDelayedCallReachesTheTargetNoSoonerThanTheDelay() {
    proxy.rules().inject(MethodMatch.prefix(EchoTarget.SERVICE + "/"), Fault.delay(300));
    long start = System.nanoTime();
    assertThat(unary("late")).isEqualTo("echo:late");
    assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).isGreaterThanOrEqualTo(300);
    assertThat(target.arrivals()).containsExactly("Unary:late");
    assertThat(proxy.counters().count(FaultKind.DELAY, U)).isEqualTo(1);

    // a delay longer than the caller's deadline: the target never sees the call
    Status late = failure(() -> ClientCalls.blockingUnaryCall(channel, UNARY,
        CallOptions.DEFAULT.withDeadlineAfter(100, TimeUnit.MILLISECONDS), "too late"));
    assertThat(late.getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
    proxy.rules().clear();
    assertThat(unary("after")).isEqualTo("echo:after");
    assertThat(target.arrivals()).containsExactly("Unary:late", "Unary:after");
  }

  @Test
  void aDuplicatedCallReachesTheTargetTwiceAndTheCallerOnce() throws Exception {
    proxy.rules().inject(MethodMatch.exact(U), Fault.duplicate(), 1);
    assertThat(unary("twice")).isEqualTo("echo:twice");
    assertThat(target.arrivals()).containsExactly("Unary:twice", "Unary:twice");

    // a failing answer is given as it is: status and trailers
    proxy.rules().inject(MethodMatch.exact(U), Fault.duplicate(), 1);
    Status refused = failure(() -> unary("fail:dup"));
    assertThat(refused.getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(refused.getDescription()).isEqualTo("refused dup");
    assertThat(target.arrivals(UNARY.getBareMethodName())).isEqualTo(4);

    // client streaming: both copies carry every message
    proxy.rules().inject(MethodMatch.exact(COLLECT.getFullMethodName()), Fault.duplicate(), 1);
    assertThat(collect(List.of("a", "b", "c")).get(5, TimeUnit.SECONDS)).isEqualTo("a,b,c");
    assertThat(target.collected()).containsExactly(List.of("a", "b", "c"), List.of("a", "b", "c"));
    assertThat(proxy.counters().count(FaultKind.DUPLICATE)).isEqualTo(3);
  }

  @Test
  void sequentialDuplicatesArriveOneAfterTheOtherAndConcurrentOnesTogether() throws Exception {
    // Pair answers "together" only when a second Pair call arrives while the first waits (3 s at most)
    proxy.rules().inject(MethodMatch.exact(PAIR.getFullMethodName()), Fault.duplicateConcurrently(), 1);
    assertThat(ClientCalls.blockingUnaryCall(channel, PAIR, fiveSeconds(), "c")).isEqualTo("together");
    assertThat(target.arrivals()).containsExactly("Pair:c", "Pair:c");

    proxy.rules().inject(MethodMatch.exact(PAIR.getFullMethodName()), Fault.duplicate(), 1);
    assertThat(ClientCalls.blockingUnaryCall(channel, PAIR, CallOptions.DEFAULT.withDeadlineAfter(9, TimeUnit.SECONDS), "s"))
        .isEqualTo("alone");
    assertThat(target.arrivals()).containsExactly("Pair:c", "Pair:c", "Pair:s", "Pair:s");
  }

  @Test
  void aReorderedCallIsOvertakenByTheNextOneOnItsMethod() throws Exception {
    proxy.rules().inject(MethodMatch.exact(U), Fault.reorder(5000), 1);
    CompletableFuture<String> first = unaryAsync(UNARY, "first", fiveSeconds());
    awaitOpenCalls(1); // held in the proxy
    assertThat(target.arrivals()).isEmpty();
    assertThat(first).isNotDone();

    assertThat(unary("second")).isEqualTo("echo:second");
    assertThat(first.get(5, TimeUnit.SECONDS)).isEqualTo("echo:first");
    assertThat(target.arrivals()).containsExactly("Unary:second", "Unary:first");
    assertThat(proxy.counters().count(FaultKind.REORDER, U)).isEqualTo(1);

    // with no next call, the held one goes after its longest hold
    proxy.rules().inject(MethodMatch.exact(U), Fault.reorder(300), 1);
    long start = System.nanoTime();
    assertThat(unary("alone")).isEqualTo("echo:alone");
    assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).isGreaterThanOrEqualTo(300);
  }

  @Test
  void aStreamIsCutAfterExactlyNResponses() throws Exception {
    proxy.rules().inject(MethodMatch.exact(COUNT.getFullMethodName()), Fault.cutAfterResponses(3));
    Iterator<String> it = ClientCalls.blockingServerStreamingCall(channel, COUNT, fiveSeconds(), "1000/5");
    List<String> got = new ArrayList<>();
    Status cut = failure(() -> it.forEachRemaining(got::add));
    assertThat(got).containsExactly("0", "1", "2");
    assertThat(cut.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(cut.getDescription()).isEqualTo("shardopt chaos: stream cut after 3 response messages");
    assertThat(target.awaitCancellations("Count", 1)).isEqualTo(1);
    assertThat(proxy.counters().count(FaultKind.CUT_STREAM, COUNT.getFullMethodName())).isEqualTo(1);
  }

  @Test
  void aStreamIsCutAfterExactlyNRequests() throws Exception {
    proxy.rules().inject(MethodMatch.exact(COLLECT.getFullMethodName()), Fault.cutAfterRequests(2));
    Status cut = statusOf(collect(List.of("a", "b", "c", "d", "e")));
    assertThat(cut.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(cut.getDescription()).isEqualTo("shardopt chaos: stream cut after 2 request messages");
    assertThat(target.awaitCancellations("Collect", 1)).isEqualTo(1);
    assertThat(target.collected()).containsExactly(List.of("a", "b"));
  }

  @Test
  void cutAllEndsEveryOpenCallOnBothSidesAndTheProxyServesAgainOnItsPort() throws Exception {
    BlockingQueue<String> counted = new LinkedBlockingQueue<>();
    CompletableFuture<Void> countDone = new CompletableFuture<>();
    ClientCalls.asyncServerStreamingCall(channel.newCall(COUNT, CallOptions.DEFAULT), "100000/20",
        observer(counted, countDone));
    BlockingQueue<String> chatted = new LinkedBlockingQueue<>();
    CompletableFuture<Void> chatDone = new CompletableFuture<>();
    StreamObserver<String> chat = ClientCalls.asyncBidiStreamingCall(channel.newCall(CHAT, CallOptions.DEFAULT),
        observer(chatted, chatDone));
    chat.onNext("hi");
    assertThat(counted.poll(5, TimeUnit.SECONDS)).isEqualTo("0");
    assertThat(chatted.poll(5, TimeUnit.SECONDS)).isEqualTo("re:hi");
    int port = proxy.port();

    assertThat(proxy.cutAll()).isEqualTo(2);

    assertThat(statusOfDone(countDone).getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(statusOfDone(chatDone).getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(target.awaitCancellations("Count", 1)).isEqualTo(1);
    assertThat(target.awaitCancellations("Chat", 1)).isEqualTo(1);
    assertThat(proxy.counters().count(FaultKind.CUT_ALL, COUNT.getFullMethodName())).isEqualTo(1);
    assertThat(proxy.counters().count(FaultKind.CUT_ALL, CHAT.getFullMethodName())).isEqualTo(1);
    assertThat(proxy.openCalls()).isZero();

    // the same port serves again; the caller's channel reconnects (a call may race the closing connection)
    assertThat(proxy.port()).isEqualTo(port);
    assertThat(eventually(() -> unary("again"))).isEqualTo("echo:again");
  }

  @Test
  void aBlackholeHoldsCallsUntilReleased() throws Exception {
    proxy.rules().inject(MethodMatch.exact(U), Fault.blackhole());
    CompletableFuture<String> held = unaryAsync(UNARY, "into the void", CallOptions.DEFAULT);
    awaitOpenCalls(1);
    Status timedOut = failure(() -> ClientCalls.blockingUnaryCall(channel, UNARY,
        CallOptions.DEFAULT.withDeadlineAfter(200, TimeUnit.MILLISECONDS), "with a deadline"));
    assertThat(timedOut.getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
    assertThat(held).isNotDone();
    awaitOpenCalls(1); // the one with a deadline left the blackhole when it ended
    assertThat(proxy.blackholed()).isEqualTo(1);
    assertThat(target.arrivals()).isEmpty();

    assertThat(proxy.releaseBlackholes()).isEqualTo(1);
    Status lost = statusOf(held);
    assertThat(lost.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(lost.getDescription()).isEqualTo("shardopt chaos: the call was lost in a blackhole");
    assertThat(unary("healed")).isEqualTo("echo:healed");
    assertThat(target.arrivals()).containsExactly("Unary:healed");
    assertThat(proxy.counters().count(FaultKind.BLACKHOLE, U)).isEqualTo(2);
  }

  @Test
  void faultsApplyOnlyToTheMethodsTheyMatch() throws Exception {
    proxy.rules().inject(MethodMatch.prefix(EchoTarget.SERVICE + "/Un"), Fault.dropRequest());
    assertThat(failure(() -> unary("u")).getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    List<String> counted = new ArrayList<>();
    ClientCalls.blockingServerStreamingCall(channel, COUNT, fiveSeconds(), "2/0").forEachRemaining(counted::add);
    assertThat(counted).containsExactly("0", "1");
    proxy.rules().clear();
    proxy.rules().inject(MethodMatch.exact(EchoTarget.SERVICE + "/Unar"), Fault.dropRequest());
    assertThat(unary("v")).isEqualTo("echo:v");
    assertThat(target.arrivals()).containsExactly("Count:2/0", "Unary:v");
  }

  private CompletableFuture<String> collect(List<String> messages) {
    CompletableFuture<String> answer = new CompletableFuture<>();
    StreamObserver<String> requests = ClientCalls.asyncClientStreamingCall(channel.newCall(COLLECT, fiveSeconds()),
        new StreamObserver<>() {
          @Override
          public void onNext(String value) {
            answer.complete(value);
          }

          @Override
          public void onError(Throwable t) {
            answer.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {
          }
        });
    messages.forEach(requests::onNext);
    requests.onCompleted();
    return answer;
  }

  private static StreamObserver<String> observer(BlockingQueue<String> messages, CompletableFuture<Void> done) {
    return new StreamObserver<>() {
      @Override
      public void onNext(String value) {
        messages.add(value);
      }

      @Override
      public void onError(Throwable t) {
        done.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {
        done.complete(null);
      }
    };
  }

  private static Status statusOfDone(CompletableFuture<Void> done) throws Exception {
    try {
      done.get(5, TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException e) {
      return Status.fromThrowable(e.getCause());
    }
    throw new AssertionError("the stream ended OK");
  }

  private void awaitOpenCalls(int n) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (proxy.openCalls() != n && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    assertThat(proxy.openCalls()).isEqualTo(n);
  }

  /** The call's answer, tried again (for at most 5 s) while it fails with UNAVAILABLE. */
  private static <T> T eventually(java.util.function.Supplier<T> call) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (true) {
      try {
        return call.get();
      } catch (StatusRuntimeException e) {
        if (e.getStatus().getCode() != Status.Code.UNAVAILABLE || System.nanoTime() > deadline) {
          throw e;
        }
        Thread.sleep(50);
      }
    }
  }

  @Test
  void badArgumentsAreRefusedNamingTheFieldAndTheValue() {
    assertThatThrownBy(() -> GrpcFaultProxy.start(target.address(), 70000))
        .hasMessage("proxy port must be in [0, 65535], got 70000");
    assertThatThrownBy(() -> GrpcFaultProxy.start("localhost"))
        .hasMessage("proxy target must be HOST:PORT, got localhost");
    assertThatThrownBy(() -> MethodMatch.exact("")).hasMessageContaining("an exact method name must not be empty");
    assertThatThrownBy(() -> Fault.delay(-5)).hasMessage("delay: millis must be >= 0, got -5");
    assertThatThrownBy(() -> Fault.cutAfterResponses(0)).hasMessage("cut stream: messages must be >= 1, got 0");
    assertThatThrownBy(() -> Fault.reorder(0)).hasMessage("reorder: maxHoldMillis must be >= 1, got 0");
    assertThatThrownBy(() -> proxy.rules().inject(MethodMatch.any(), Fault.dropRequest(), 0))
        .hasMessage("fault rule: times must be >= 1, got 0");
    assertThatThrownBy(() -> RandomFaultPlan.seeded(1).with(Fault.dropRequest(), 1.5))
        .hasMessage("random fault plan: the probability of DropRequest[] must be in [0, 1], got 1.5");
    assertThatThrownBy(() -> RandomFaultPlan.seeded(1).with(Fault.dropRequest(), 0.6).with(Fault.dropResponse(), 0.6))
        .hasMessageStartingWith("random fault plan: the probabilities must add up to at most 1, got 1.2");
  }
}
