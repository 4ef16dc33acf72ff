package dev.shardopt.chaos;

/**
 * One fault to inject into a call. Made with the factories here; given to
 * {@link FaultRules#inject(MethodMatch, Fault)} or to a {@link RandomFaultPlan}.
 */
public sealed interface Fault {
  FaultKind kind();

  /** Answer UNAVAILABLE without forwarding: the target never sees the call. */
  static Fault dropRequest() {
    return new DropRequest();
  }

  /**
   * Forward the call and let the target finish it, then answer UNAVAILABLE instead of its answer:
   * the target applied what the caller believes lost. Works on every kind of stream: the target's
   * headers and messages are read and discarded.
   */
  static Fault dropResponse() {
    return new DropResponse();
  }

  /** Hold the call {@code millis} before forwarding it (the caller's deadline still runs). */
  static Fault delay(long millis) {
    return new Delay(millis);
  }

  /**
   * Forward the call twice, one after the other, and answer with the first reply once both are done.
   * The caller's request stream is read whole first (up to its half-close), so this suits unary,
   * client- and server-streaming methods, not a bidi stream that waits for answers before it ends.
   */
  static Fault duplicate() {
    return new Duplicate(false);
  }

  /** As {@link #duplicate()}, both copies sent at once; the caller gets the reply that finished first. */
  static Fault duplicateConcurrently() {
    return new Duplicate(true);
  }

  /**
   * Hold the call (read whole, as for {@link #duplicate()}) until the next call on the same method
   * has gone through the target, then forward it; at most {@code maxHoldMillis}, so that a last call
   * is not held for ever.
   */
  static Fault reorder(long maxHoldMillis) {
    return new Reorder(maxHoldMillis);
  }

  /** Cut the stream right after the {@code n}-th message from the target to the caller has passed. */
  static Fault cutAfterResponses(int n) {
    return new CutStream(n, Direction.RESPONSES);
  }

  /**
   * Cut the stream right after the {@code n}-th message from the caller has been written to the
   * target's connection: the cancellation follows the n messages on the wire. A target whose service
   * had asked for them and runs on the transport's thread receives all n; one with an executor may
   * lose the last ones, since gRPC drops what it has not yet handed to the service when the
   * cancellation arrives.
   */
  static Fault cutAfterRequests(int n) {
    return new CutStream(n, Direction.REQUESTS);
  }

  /** Accept the call and never answer it, until {@link GrpcFaultProxy#releaseBlackholes()}. */
  static Fault blackhole() {
    return new Blackhole();
  }

  /** Which messages a {@link CutStream} counts. */
  enum Direction {
    /** From the caller to the target. */
    REQUESTS,
    /** From the target to the caller. */
    RESPONSES
  }

  /** See {@link Fault#dropRequest()}. */
  record DropRequest() implements Fault {
    @Override
    public FaultKind kind() {
      return FaultKind.DROP_REQUEST;
    }
  }

  /** See {@link Fault#dropResponse()}. */
  record DropResponse() implements Fault {
    @Override
    public FaultKind kind() {
      return FaultKind.DROP_RESPONSE;
    }
  }

  /** See {@link Fault#delay(long)}. */
  record Delay(long millis) implements Fault {
    public Delay {
      if (millis < 0) {
        throw new IllegalArgumentException("delay: millis must be >= 0, got " + millis);
      }
    }

    @Override
    public FaultKind kind() {
      return FaultKind.DELAY;
    }
  }

  /** See {@link Fault#duplicate()} and {@link Fault#duplicateConcurrently()}. */
  record Duplicate(boolean concurrent) implements Fault {
    @Override
    public FaultKind kind() {
      return FaultKind.DUPLICATE;
    }
  }

  /** See {@link Fault#reorder(long)}. */
  record Reorder(long maxHoldMillis) implements Fault {
    public Reorder {
      if (maxHoldMillis < 1) {
        throw new IllegalArgumentException("reorder: maxHoldMillis must be >= 1, got " + maxHoldMillis);
      }
    }

    @Override
    public FaultKind kind() {
      return FaultKind.REORDER;
    }
  }

  /** See {@link Fault#cutAfterResponses(int)} and {@link Fault#cutAfterRequests(int)}. */
  record CutStream(int messages, Direction direction) implements Fault {
    public CutStream {
      if (messages < 1) {
        throw new IllegalArgumentException("cut stream: messages must be >= 1, got " + messages);
      }
      if (direction == null) {
        throw new IllegalArgumentException("cut stream: direction must be REQUESTS or RESPONSES, got null");
      }
    }

    @Override
    public FaultKind kind() {
      return FaultKind.CUT_STREAM;
    }
  }

  /** See {@link Fault#blackhole()}. */
  record Blackhole() implements Fault {
    @Override
    public FaultKind kind() {
      return FaultKind.BLACKHOLE;
    }
  }
}
