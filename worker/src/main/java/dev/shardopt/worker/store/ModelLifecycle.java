package dev.shardopt.worker.store;

import dev.shardopt.rpc.ApiException;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * Whether a model on this worker can still be used: it fails for good when a step cannot complete
 * (later calls get UNAVAILABLE with the reason) and is dropped when deleted (NOT_FOUND).
 */
final class ModelLifecycle {
  private final String model;
  private final List<Consumer<ApiException>> onEnd = new CopyOnWriteArrayList<>();
  private volatile String failure;
  private volatile boolean dropped;

  ModelLifecycle(String model) {
    this.model = model;
  }

  /** {@code listener} gets the exception later calls will get, once, when the model fails or is dropped. */
  void onEnd(Consumer<ApiException> listener) {
    onEnd.add(listener);
  }

  void check() {
    if (dropped) {
      throw ApiException.notFound(model + " was deleted");
    }
    String f = failure;
    if (f != null) {
      throw ApiException.unavailable(model + " failed on this worker: " + f);
    }
  }

  /** Fails the model with {@code reason}; returns whether this call did (false: it had failed or was dropped). */
  boolean fail(String reason) {
    synchronized (this) {
      if (failure != null || dropped) {
        return false;
      }
      failure = reason;
    }
    end();
    return true;
  }

  void drop() {
    synchronized (this) {
      if (dropped) {
        return;
      }
      dropped = true;
    }
    end();
  }

  String failure() {
    return failure;
  }

  private void end() {
    ApiException e;
    try {
      check();
      return;
    } catch (ApiException ended) {
      e = ended;
    }
    for (Consumer<ApiException> l : onEnd) {
      l.accept(e);
    }
  }
}
