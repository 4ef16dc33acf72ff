package dev.shardopt.cli;

/**
 * A mistake of the user's (a bad file, a bad pipeline, an argument that makes no sense) rather than a bug:
 * {@link ShardoptCli} prints {@code shardopt: <message>} on one line to stderr, without a stack trace, and
 * exits with status {@value ShardoptCli#EXIT_USER_ERROR}. Write the message so that it says what is wrong
 * and what would be right, e.g. {@code --steps must be >= 1, got 0}.
 */
public class UserErrorException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  public UserErrorException(String message) {
    super(message);
  }

  public UserErrorException(String message, Throwable cause) {
    super(message, cause);
  }
}
