package dev.shardopt.worker.server;

import com.google.protobuf.ByteString;
import dev.shardopt.rpc.wire.Received;
import io.grpc.stub.StreamObserver;
import java.util.function.Function;

/**
 * Feeds messages built in memory (a test, an in-process caller) to a handler of received messages:
 * each is a {@link Received} holding no transport buffer, its data the message's own field.
 */
final class CopiedMessages<M> implements StreamObserver<M> {
  private final StreamObserver<Received<M>> target;
  private final Function<M, ByteString> dataOf;

  CopiedMessages(StreamObserver<Received<M>> target, Function<M, ByteString> dataOf) {
    this.target = target;
    this.dataOf = dataOf;
  }

  @Override
  public void onNext(M value) {
    target.onNext(Received.of(value, dataOf.apply(value)));
  }

  @Override
  public void onError(Throwable t) {
    target.onError(t);
  }

  @Override
  public void onCompleted() {
    target.onCompleted();
  }
}
