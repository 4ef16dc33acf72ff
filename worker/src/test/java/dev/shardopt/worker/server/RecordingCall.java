package dev.shardopt.worker.server;

import io.grpc.stub.ServerCallStreamObserver;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/** A server call that is always ready and records what the service sends. */
final class RecordingCall<T> extends ServerCallStreamObserver<T> {
  final List<T> messages = new ArrayList<>();
  final CountDownLatch done = new CountDownLatch(1);
  volatile Throwable error;

  @Override
  public synchronized void onNext(T value) {
    messages.add(value);
  }

  @Override
  public void onError(Throwable t) {
    error = t;
    done.countDown();
  }

  @Override
  public void onCompleted() {
    done.countDown();
  }

  synchronized List<T> messages() {
    return List.copyOf(messages);
  }

  @Override
  public boolean isReady() {
    return true;
  }

  @Override
  public boolean isCancelled() {
    return false;
  }

  @Override
  public void setOnReadyHandler(Runnable onReadyHandler) {}

  @Override
  public void setOnCancelHandler(Runnable onCancelHandler) {}

  @Override
  public void setCompression(String compression) {}

  @Override
  public void disableAutoInboundFlowControl() {}

  @Override
  public void request(int count) {}

  @Override
  public void setMessageCompression(boolean enable) {}
}
