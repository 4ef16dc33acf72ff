package dev.shardopt.coordinator;

/**
 * What the coordinator reports as it works, for its metrics: the registry and the checkpointer call
 * it at fixed points and never depend on what it does, so that their tests need no metrics library.
 * Calls come from gRPC and timer threads, some under a model's lock: an observer records and
 * returns, never blocks, never throws.
 */
public interface CoordinatorObserver {
  /** Observes nothing: a coordinator without metrics. */
  CoordinatorObserver NONE = new CoordinatorObserver() {};

  /**
   * A SYNC step of {@code model} was decided and made durable, once per step.
   *
   * @param barrierWaitSeconds from the step's first worker report to its last
   * @param stepSeconds from the step's first worker report to its decision being durable (the
   *     barrier wait, a checkpoint's hold if any, the decision, the state dir's write)
   */
  default void stepDecided(String model, DecidedStep step, double barrierWaitSeconds, double stepSeconds) {}

  /**
   * A checkpoint of {@code model} was committed.
   *
   * @param bytes the bytes of the tensors' data the workers wrote (no headers, no manifest)
   * @param seconds from the request to the manifest's commit
   */
  default void checkpointWritten(String model, long bytes, double seconds) {}

  /**
   * A worker holding copies of {@code model} was declared dead and their backups took over.
   *
   * @param epoch the shard map's epoch after it
   * @param minLiveCopies the fewest copies any shard of the model has now
   */
  default void failedOver(String model, String worker, long epoch, int minLiveCopies) {}

  /**
   * Re-replication added copies of {@code model}'s shards on {@code worker}.
   *
   * @param copies the shards copied
   * @param epoch the shard map's epoch after it
   * @param minLiveCopies the fewest copies any shard of the model has now
   */
  default void copiesAdded(String model, String worker, int copies, long epoch, int minLiveCopies) {}

  /** {@code model} was deleted: its series go. */
  default void modelDeleted(String model) {}
}
