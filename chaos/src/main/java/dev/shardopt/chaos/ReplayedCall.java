package dev.shardopt.chaos;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * One copy of a buffered request sent to the target (headers, every message, half-close), with the
 * target's whole answer recorded. Sending the same request twice is a duplicate.
 */
final class ReplayedCall extends ClientCall.Listener<byte[]> {
  private final CompletableFuture<RecordedReply> reply = new CompletableFuture<>();
  private final List<byte[]> messages = new ArrayList<>();
  private final ClientCall<byte[], byte[]> call;
  private Metadata headers;

  private ReplayedCall(ClientCall<byte[], byte[]> call) {
    this.call = call;
  }

  /** Sends {@code request} on a new call; {@link #reply()} completes with the target's answer. */
  static ReplayedCall send(Upstream upstream, MethodDescriptor<byte[], byte[]> method, CallOptions options,
      Metadata headers, List<byte[]> request) {
    ReplayedCall r = new ReplayedCall(upstream.newCall(method, options));
    Metadata copy = new Metadata(); // a call takes its headers over: each copy gets its own
    copy.merge(headers);
    r.call.start(r, copy);
    r.call.request(Integer.MAX_VALUE);
    for (byte[] m : request) {
      r.call.sendMessage(m);
    }
    r.call.halfClose();
    return r;
  }

  CompletableFuture<RecordedReply> reply() {
    return reply;
  }

  /** Cancels the copy at the target (the caller went away or the stream was cut). */
  void cancel(String why) {
    call.cancel(why, null);
  }

  @Override
  public synchronized void onHeaders(Metadata h) {
    headers = h;
  }

  @Override
  public synchronized void onMessage(byte[] message) {
    messages.add(message);
  }

  @Override
  public synchronized void onClose(Status status, Metadata trailers) {
    reply.complete(new RecordedReply(headers, List.copyOf(messages), status, trailers, System.nanoTime()));
  }
}
