package dev.shardopt.engine;

/**
 * A push that cannot be applied: a missing or unknown tensor, a wrong length, or a non-finite value
 * without skipNonFinite. Nothing of the push has been applied when this is thrown.
 */
public final class InvalidGradientException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  public InvalidGradientException(String message) {
    super(message);
  }
}
