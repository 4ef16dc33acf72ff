package dev.shardopt.train;

/**
 * A checkpoint directory that a run cannot start from or write into: no resumable checkpoint, one whose
 * model, pipeline or trainers differ from the run's, or a fresh run's directory that already holds
 * checkpoints. The user's to fix; the message says what and how.
 */
public final class NotResumableException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public NotResumableException(String message) {
    super(message);
  }

  public NotResumableException(String message, Throwable cause) {
    super(message, cause);
  }
}
