package dev.shardopt.chaos;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.Status;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * One call passed through live, message by message in both directions, with the caller's headers,
 * the target's headers, messages, status and trailers, and the caller's deadline and cancellation.
 * Flow control is end to end: a message is asked for on one side only when the other side can take
 * it. Three faults change it: a start held back ({@link #start()} called late: a delay), the
 * target's answer replaced by UNAVAILABLE (drop response), and a cut after n messages.
 *
 * <p>Every method holds the relay's lock: gRPC calls are not thread-safe, and the relay is driven
 * from the caller's and the target's callbacks and from {@code cutAll}.
 */
final class StreamRelay implements OpenCall {
  /** The longest a cut after n requests waits for the n-th to be written. */
  private static final long CUT_WAIT_MILLIS = 1000;

  /** What the relay tells its owner. */
  interface Events {
    /** The target finished the call (any status); not called when the proxy cancelled it. */
    void targetAnswered(String method);

    /** The call is over on both sides. */
    void ended(StreamRelay relay);
  }

  private final ServerCall<byte[], byte[]> downstream;
  private final Metadata headers;
  private final Upstream upstream;
  private final CallOptions options;
  private final boolean dropResponse;
  private final Fault.CutStream cut;
  private final Events events;
  private final ScheduledExecutorService timer;

  private ClientCall<byte[], byte[]> call;
  private boolean finished;
  private boolean callerHalfClosed;
  private boolean downstreamWaitsForUpstreamReady;
  private boolean upstreamWaitsForDownstreamReady;
  private int requests;
  private int responses;
  private boolean cutWhenWritten;

  /**
   * @param dropResponse answer UNAVAILABLE when the target has finished, and forward nothing of its answer
   * @param cut where to cut the stream, or null
   */
  StreamRelay(ServerCall<byte[], byte[]> downstream, Metadata headers, Upstream upstream, CallOptions options,
      boolean dropResponse, Fault.CutStream cut, Events events, ScheduledExecutorService timer) {
    this.downstream = downstream;
    this.headers = headers;
    this.upstream = upstream;
    this.options = options;
    this.dropResponse = dropResponse;
    this.cut = cut;
    this.events = events;
    this.timer = timer;
  }

  /**
   * The options a relay with {@code cut} needs: a cut after n requests waits until the n-th is
   * written to the socket (the call is ready again with a threshold of one byte), since a cancel in
   * the same write batch as the message would discard it.
   */
  static CallOptions options(CallOptions base, Fault.CutStream cut) {
    return cut != null && cut.direction() == Fault.Direction.REQUESTS ? base.withOnReadyThreshold(1) : base;
  }

  @Override
  public String method() {
    return downstream.getMethodDescriptor().getFullMethodName();
  }

  ServerCall.Listener<byte[]> callerListener() {
    return new FromCaller();
  }

  /** Opens the call to the target and starts relaying; nothing is read from the caller before. */
  synchronized void start() {
    if (finished) {
      return; // the caller gave up (cancelled, or its deadline passed) during a delay
    }
    call = upstream.newCall(downstream.getMethodDescriptor(), options);
    call.start(new FromTarget(), headers);
    call.request(1);
    if (callerHalfClosed) {
      call.halfClose();
    } else {
      downstream.request(1);
    }
  }

  @Override
  public synchronized void cut(Status status) {
    if (finished) {
      return;
    }
    finished = true;
    if (call != null) {
      call.cancel("shardopt chaos: " + status.getDescription(), null);
    }
    downstream.close(status, new Metadata());
    events.ended(this);
  }

  private synchronized void cutNowIfPending() {
    if (cutWhenWritten && !finished) {
      cutAfter(requests, "request");
    }
  }

  private void cutAfter(int n, String what) {
    cut(Status.UNAVAILABLE.withDescription("shardopt chaos: stream cut after " + n + " " + what + " messages"));
  }

  private final class FromCaller extends ServerCall.Listener<byte[]> {
    @Override
    public void onMessage(byte[] message) {
      synchronized (StreamRelay.this) {
        if (finished) {
          return;
        }
        call.sendMessage(message);
        requests++;
        if (cut != null && cut.direction() == Fault.Direction.REQUESTS && requests == cut.messages()) {
          cutWhenWritten = true; // read nothing more from the caller
          if (call.isReady()) {
            cutAfter(requests, "request");
          } else {
            // bounded: a target that takes no more bytes must not hold the cut for ever
            timer.schedule(StreamRelay.this::cutNowIfPending, CUT_WAIT_MILLIS, TimeUnit.MILLISECONDS);
          }
        } else if (call.isReady()) {
          downstream.request(1);
        } else {
          downstreamWaitsForUpstreamReady = true;
        }
      }
    }

    @Override
    public void onHalfClose() {
      synchronized (StreamRelay.this) {
        if (finished) {
          return;
        }
        if (call == null) {
          callerHalfClosed = true; // before start: the half-close follows once the call is open
        } else {
          call.halfClose();
        }
      }
    }

    @Override
    public void onCancel() {
      synchronized (StreamRelay.this) {
        if (finished) {
          return;
        }
        finished = true;
        if (call != null) {
          call.cancel("shardopt chaos: the caller cancelled", null);
        }
        events.ended(StreamRelay.this);
      }
    }

    @Override
    public void onReady() {
      synchronized (StreamRelay.this) {
        if (upstreamWaitsForDownstreamReady && !finished) {
          upstreamWaitsForDownstreamReady = false;
          call.request(1);
        }
      }
    }
  }

  private final class FromTarget extends ClientCall.Listener<byte[]> {
    @Override
    public void onHeaders(Metadata targetHeaders) {
      synchronized (StreamRelay.this) {
        if (!finished && !dropResponse) {
          downstream.sendHeaders(targetHeaders);
        }
      }
    }

    @Override
    public void onMessage(byte[] message) {
      synchronized (StreamRelay.this) {
        if (finished) {
          return;
        }
        if (dropResponse) {
          call.request(1); // read and discard: the target finishes as if answered
          return;
        }
        downstream.sendMessage(message);
        responses++;
        if (cut != null && cut.direction() == Fault.Direction.RESPONSES && responses == cut.messages()) {
          cutAfter(responses, "response");
        } else if (downstream.isReady()) {
          call.request(1);
        } else {
          upstreamWaitsForDownstreamReady = true;
        }
      }
    }

    @Override
    public void onClose(Status status, Metadata trailers) {
      synchronized (StreamRelay.this) {
        if (finished) {
          return;
        }
        finished = true;
        if (dropResponse) {
          downstream.close(Status.UNAVAILABLE.withDescription("shardopt chaos: the response was dropped (the target"
              + " answered " + status.getCode() + ")"), new Metadata());
        } else {
          downstream.close(status, trailers);
        }
        events.targetAnswered(method());
        events.ended(StreamRelay.this);
      }
    }

    @Override
    public void onReady() {
      synchronized (StreamRelay.this) {
        if (cutWhenWritten && !finished) {
          cutAfter(requests, "request");
          return;
        }
        if (downstreamWaitsForUpstreamReady && !finished) {
          downstreamWaitsForUpstreamReady = false;
          downstream.request(1);
        }
      }
    }
  }
}
