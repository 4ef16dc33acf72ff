package dev.shardopt.worker.store;

import java.util.concurrent.CompletableFuture;

/** How a model's pushes become steps: {@link SyncSteps} or {@link AsyncSteps}. */
interface PushProtocol {

  /**
   * Records one trainer's push, exactly once per (trainer, step). The future completes when the
   * push is acknowledged; it fails with an ApiException when refused (the gradient was then not
   * kept: the caller may reuse it; so it may on a duplicate).
   *
   * @param waitMillis how long the push may wait (SSP: for slower trainers)
   */
  CompletableFuture<PushAck> push(GradientPush push, long waitMillis);

  /** Where the protocol stands, for messages: e.g. "completed 3, collecting 4". */
  String progress();
}
