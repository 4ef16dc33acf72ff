package dev.shardopt.dsl;

/**
 * A pipeline that cannot be built: a value out of range, a modifier that does not apply to the
 * rule, a duplicate, or text that does not parse. The message says what was wrong and what is
 * allowed; for text it also gives the 1-based column.
 */
public final class InvalidPipelineException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  private final String reason;
  private final int column;

  public InvalidPipelineException(String reason) {
    this(reason, 0);
  }

  InvalidPipelineException(String reason, int column) {
    this(reason, column, column > 0 ? reason + " (at column " + column + ")" : reason);
  }

  /** For messages that place the column themselves. */
  InvalidPipelineException(String reason, int column, String message) {
    super(message);
    this.reason = reason;
    this.column = column;
  }

  /** The message without the position. */
  public String reason() {
    return reason;
  }

  /** 1-based column in the pipeline text, or 0 when the error does not come from text. */
  public int column() {
    return column;
  }

  InvalidPipelineException at(int column) {
    return this.column > 0 ? this : new InvalidPipelineException(reason, column);
  }
}
