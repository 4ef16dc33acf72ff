package dev.shardopt.worker.server;

/**
 * What the Worker service reports of the calls it answers, for the process's metrics: the service
 * calls it once per answered call and never depends on what it does, so that the worker's tests need
 * no metrics library. One observer serves every worker of a process (the embedded cluster's too),
 * hence the worker's name in every call. Calls come from gRPC and step threads: an observer records
 * and returns, never blocks, never throws.
 */
public interface WorkerObserver {
  /** Observes nothing: a worker without metrics. */
  WorkerObserver NONE = new WorkerObserver() {};

  /**
   * A push was acknowledged.
   *
   * @param bytes the gradient bytes it carried (4 per float32 element)
   * @param seconds from its first message to the acknowledgement (an SSP push's wait included)
   * @param duplicate whether this (trainer, step) had been received before, so nothing was applied
   */
  default void pushed(String worker, String model, long bytes, double seconds, boolean duplicate) {}

  /**
   * A pull was answered whole.
   *
   * @param bytes the parameter bytes sent (4 per float32 element)
   * @param seconds from the request to its last message handed to the transport (the wait for the step included)
   */
  default void pulled(String worker, String model, long bytes, double seconds) {}

  /** Phase one of a checkpoint: this worker's shards were copied into the checkpoint's files (not forced). */
  default void shardsCopied(String worker, String model, long bytes, double seconds) {}

  /** Phase two of a checkpoint: this worker's part of the files was forced to disk. */
  default void shardsPersisted(String worker, String model, long bytes, double seconds) {}

  /** The model was dropped from this worker: its series go. */
  default void modelDropped(String worker, String model) {}
}
