package dev.shardopt.device.cuda;

import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * The one thread on which a {@link CudaBackend} makes every CUDA call. The runtime API keeps the
 * current device and context per thread, and the driver-API calls (module, launch) need that context
 * current: one dedicated thread makes both true without a cudaSetDevice before every call, and it
 * serializes the calls, so the pinned staging buffers and the launch-argument block need no locks.
 */
final class CudaThread implements AutoCloseable {
  private final ExecutorService executor;
  private volatile Thread thread;

  CudaThread(String name) {
    this.executor = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      thread = t;
      return t;
    });
  }

  /** Whether the caller is this thread (then {@link #call} runs the task in place). */
  boolean isCurrent() {
    return Thread.currentThread() == thread;
  }

  /**
   * Runs {@code task} on the thread and returns its result. Waits without giving up on an interrupt
   * (the device call completes either way, so returning early would leave the caller unsure of the
   * device's state); the interrupt is restored afterwards. The task's own exception is rethrown as
   * is when unchecked.
   */
  <T> T call(Callable<T> task) {
    if (isCurrent()) {
      try {
        return task.call();
      } catch (RuntimeException | Error e) {
        throw e;
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    }
    Future<T> future;
    try {
      future = executor.submit(task);
    } catch (RejectedExecutionException e) {
      throw new IllegalStateException("the cuda backend is closed");
    }
    boolean interrupted = false;
    try {
      while (true) {
        try {
          return future.get();
        } catch (InterruptedException e) {
          interrupted = true;
        } catch (ExecutionException e) {
          Throwable cause = e.getCause();
          if (cause instanceof RuntimeException re) {
            throw re;
          }
          if (cause instanceof Error err) {
            throw err;
          }
          throw new IllegalStateException(cause);
        }
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  void run(Runnable task) {
    call(() -> {
      task.run();
      return null;
    });
  }

  /** Stops the thread once the tasks already submitted have run. */
  @Override
  public void close() {
    executor.shutdown();
    try {
      executor.awaitTermination(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
