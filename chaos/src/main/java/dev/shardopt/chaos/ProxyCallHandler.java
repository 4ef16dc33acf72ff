package dev.shardopt.chaos;

import io.grpc.CallOptions;
import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.Status;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Starts every call the proxy receives: asks the rules for its fault, counts it, and hands the call
 * to the relay that injects it. The caller's deadline goes to the target with the call.
 */
final class ProxyCallHandler implements ServerCallHandler<byte[], byte[]> {
  private final Upstream upstream;
  private final FaultRules rules;
  private final FaultCounters counters;
  private final OpenCalls open;
  private final Blackhole blackhole;
  private final ReorderGate reorder;
  private final ScheduledExecutorService timer;

  ProxyCallHandler(Upstream upstream, FaultRules rules, FaultCounters counters, OpenCalls open, Blackhole blackhole,
      ReorderGate reorder, ScheduledExecutorService timer) {
    this.upstream = upstream;
    this.rules = rules;
    this.counters = counters;
    this.open = open;
    this.blackhole = blackhole;
    this.reorder = reorder;
    this.timer = timer;
  }

  @Override
  public ServerCall.Listener<byte[]> startCall(ServerCall<byte[], byte[]> call, Metadata headers) {
    String method = call.getMethodDescriptor().getFullMethodName();
    counters.call(method);
    Fault fault = rules.decide(method);
    if (fault != null) {
      counters.fault(fault.kind(), method);
    }
    Deadline deadline = Context.current().getDeadline();
    CallOptions options = deadline == null ? CallOptions.DEFAULT : CallOptions.DEFAULT.withDeadline(deadline);

    if (fault instanceof Fault.DropRequest) {
      call.close(Status.UNAVAILABLE.withDescription("shardopt chaos: the request was dropped"), new Metadata());
      return new ServerCall.Listener<>() { };
    }
    if (fault instanceof Fault.Blackhole) {
      BlackholedCall held = new BlackholedCall(call, gone -> {
        open.closed(gone);
        blackhole.gone(gone);
      });
      open.opened(held);
      blackhole.hold(held);
      return held.callerListener();
    }
    if (fault instanceof Fault.Duplicate d) {
      return buffered(call, headers, options, c -> duplicate(c, d.concurrent()));
    }
    if (fault instanceof Fault.Reorder r) {
      return buffered(call, headers, options, c -> reorder.park(method, () -> forwardOnce(c), r.maxHoldMillis()));
    }
    Fault.CutStream cut = fault instanceof Fault.CutStream c ? c : null;
    StreamRelay relay = new StreamRelay(call, headers, upstream, StreamRelay.options(options, cut),
        fault instanceof Fault.DropResponse, cut, relayEvents(), timer);
    open.opened(relay);
    ServerCall.Listener<byte[]> listener = relay.callerListener();
    if (fault instanceof Fault.Delay d && d.millis() > 0) {
      timer.schedule(relay::start, d.millis(), TimeUnit.MILLISECONDS);
    } else {
      relay.start();
    }
    return listener;
  }

  private StreamRelay.Events relayEvents() {
    return new StreamRelay.Events() {
      @Override
      public void targetAnswered(String method) {
        reorder.passed(method);
      }

      @Override
      public void ended(StreamRelay relay) {
        open.closed(relay);
      }
    };
  }

  private ServerCall.Listener<byte[]> buffered(ServerCall<byte[], byte[]> call, Metadata headers, CallOptions options,
      java.util.function.Consumer<BufferedCall> whenRead) {
    BufferedCall c = new BufferedCall(call, headers, upstream, options, whenRead, open::closed);
    open.opened(c);
    return c.callerListener();
  }

  /** Sends the request twice and answers with the first reply once both are back. */
  private void duplicate(BufferedCall c, boolean concurrently) {
    if (concurrently) {
      CompletableFuture<RecordedReply> a = c.send();
      CompletableFuture<RecordedReply> b = c.send();
      a.thenAcceptBoth(b, (ra, rb) -> {
        reorder.passed(c.method());
        c.answer(ra.finishedNanos() <= rb.finishedNanos() ? ra : rb);
      });
    } else {
      c.send().thenAccept(first -> c.send().thenAccept(second -> {
        reorder.passed(c.method());
        c.answer(first);
      }));
    }
  }

  /** Sends a held request once and answers with its reply (it releases no other held call). */
  private void forwardOnce(BufferedCall c) {
    c.send().thenAccept(c::answer);
  }
}
