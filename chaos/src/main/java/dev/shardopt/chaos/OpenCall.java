package dev.shardopt.chaos;

import io.grpc.Status;

/** A call the proxy holds open, which {@link GrpcFaultProxy#cutAll()} can end from outside. */
interface OpenCall {
  String method();

  /** Ends the call now: the caller gets {@code status}, the target (if it has the call) a cancellation. */
  void cut(Status status);
}
