package dev.shardopt.worker.server;

import io.grpc.stub.StreamObserver;
import java.util.concurrent.CompletableFuture;

/** A client-side observer of a call with one answer: completes {@code answer} with the last message, or its error. */
final class LastAnswer<T> implements StreamObserver<T> {
  private final CompletableFuture<T> answer;
  private T last;

  private LastAnswer(CompletableFuture<T> answer) {
    this.answer = answer;
  }

  static <T> StreamObserver<T> into(CompletableFuture<T> answer) {
    return new LastAnswer<>(answer);
  }

  @Override
  public void onNext(T value) {
    last = value;
  }

  @Override
  public void onError(Throwable t) {
    answer.completeExceptionally(t);
  }

  @Override
  public void onCompleted() {
    answer.complete(last);
  }
}
