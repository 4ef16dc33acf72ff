package dev.shardopt.chaos;

/** The kinds of fault the proxy injects; {@link FaultCounters} counts each per method. */
public enum FaultKind {
  /** Answered UNAVAILABLE at once; the target never sees the call. */
  DROP_REQUEST,
  /** Forwarded and applied by the target; the caller gets UNAVAILABLE instead of the answer (a lost acknowledgement). */
  DROP_RESPONSE,
  /** Held for a fixed time before it is forwarded. */
  DELAY,
  /** Forwarded twice; the caller gets the first reply. */
  DUPLICATE,
  /** Held until the next call on the same method has gone through, then forwarded. */
  REORDER,
  /** Cut after a number of messages: the caller gets UNAVAILABLE, the target a cancellation. */
  CUT_STREAM,
  /** Accepted and never answered, until released (a partition). */
  BLACKHOLE,
  /** Open when {@link GrpcFaultProxy#cutAll()} cut every connection. */
  CUT_ALL
}
