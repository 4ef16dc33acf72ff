package dev.shardopt.checkpoint;

/**
 * An NPY header that this project does not accept. The message says what is wrong and what is allowed,
 * without the file (the caller puts the file in front); {@link #reason()} says which kind of problem it is.
 */
public final class NpyFormatException extends Exception {

  private static final long serialVersionUID = 1L;

  /** The kinds of problem. */
  public enum Reason {
    /** Not an NPY file: empty, or a bad magic. */
    NOT_NPY,
    /** An NPY format version other than 1.0 and 2.0. */
    VERSION,
    /** The file ends inside the header. */
    TRUNCATED,
    /** The header is not a dict with exactly descr, fortran_order and shape, or a value is malformed. */
    MALFORMED,
    /** A dtype other than {@code '<f4'}. */
    DTYPE,
    /** {@code fortran_order: True}. */
    FORTRAN_ORDER
  }

  private final Reason reason;

  public NpyFormatException(Reason reason, String message) {
    super(message);
    this.reason = reason;
  }

  public Reason reason() {
    return reason;
  }
}
