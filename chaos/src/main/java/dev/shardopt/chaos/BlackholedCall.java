package dev.shardopt.chaos;

import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.Status;
import java.util.function.Consumer;

/**
 * A call accepted and never answered (a partition): nothing is read from the caller and nothing goes
 * to the target, until it is released or cut, or the caller's deadline ends it.
 */
final class BlackholedCall implements OpenCall {
  private final ServerCall<byte[], byte[]> downstream;
  private final Consumer<BlackholedCall> ended;
  private boolean finished;

  BlackholedCall(ServerCall<byte[], byte[]> downstream, Consumer<BlackholedCall> ended) {
    this.downstream = downstream;
    this.ended = ended;
  }

  @Override
  public String method() {
    return downstream.getMethodDescriptor().getFullMethodName();
  }

  ServerCall.Listener<byte[]> callerListener() {
    return new ServerCall.Listener<>() {
      @Override
      public void onCancel() {
        synchronized (BlackholedCall.this) {
          finished = true;
        }
        ended.accept(BlackholedCall.this);
      }
    };
  }

  @Override
  public void cut(Status status) {
    synchronized (this) {
      if (finished) {
        return;
      }
      finished = true;
      downstream.close(status, new Metadata());
    }
    ended.accept(BlackholedCall.this);
  }
}
