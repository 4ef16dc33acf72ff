package dev.shardopt.worker.store;

import dev.shardopt.checkpoint.CheckpointException;
import dev.shardopt.rpc.ApiException;
import io.grpc.Status;

/** The gRPC status of a checkpoint that this worker could not write or read, with a message naming it and the file. */
final class CheckpointStatus {
  private CheckpointStatus() {}

  /**
   * A failed write: RESOURCE_EXHAUSTED for a full disk, INTERNAL for another filesystem error,
   * INVALID_ARGUMENT when the files do not fit the shards, FAILED_PRECONDITION when they are not
   * as the coordinator created them (missing, truncated).
   */
  static ApiException ofWrite(String worker, String what, CheckpointException e) {
    String msg = worker + " could not write " + what + ": " + e.getMessage();
    Status.Code code;
    if (e.kind() == CheckpointException.Kind.IO) {
      code = String.valueOf(e.getMessage()).contains("No space left") ? Status.Code.RESOURCE_EXHAUSTED : Status.Code.INTERNAL;
    } else {
      code = e.kind().isInvalidArgument() ? Status.Code.INVALID_ARGUMENT : Status.Code.FAILED_PRECONDITION;
    }
    return new ApiException(code, msg, e);
  }

  /** A failed restore: INVALID_ARGUMENT for a bad path or format or a range that does not fit, else FAILED_PRECONDITION. */
  static ApiException ofRead(String worker, String what, CheckpointException e) {
    String msg = worker + " could not restore " + what + ": " + e.getMessage();
    return new ApiException(e.kind().isInvalidArgument() ? Status.Code.INVALID_ARGUMENT : Status.Code.FAILED_PRECONDITION,
        msg, e);
  }
}
