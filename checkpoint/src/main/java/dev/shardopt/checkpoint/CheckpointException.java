package dev.shardopt.checkpoint;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A checkpoint could not be written, found, or trusted. The message is one line: the file (or directory),
 * then what is wrong, e.g. {@code /ckpt/step-0000000100/w.npy: truncated: size 4032 expected 4160}.
 * {@link #kind()} says which kind of problem it is, so that a server can pick a status code without parsing
 * the message ({@link Kind#isInvalidArgument()}).
 */
public class CheckpointException extends IOException {

  private static final long serialVersionUID = 1L;

  /** The kinds of problem. */
  public enum Kind {
    /** A file or directory is missing. */
    MISSING,
    /** A file's size differs from the manifest's (shorter or longer). */
    TRUNCATED,
    /** A file's CRC32C differs from the manifest's (the manifest's own checksum too). */
    CHECKSUM,
    /** An npy header's shape differs from the manifest's. */
    SHAPE,
    /** An npy header has a dtype other than '<f4' or Fortran order. */
    DTYPE,
    /** A file that cannot be parsed: not npy, a malformed header, a manifest that is not valid JSON. */
    MALFORMED,
    /** A manifest of a format version newer than this build reads. */
    VERSION,
    /**
     * The checkpoint is not complete: no manifest yet, or (when writing) the workers' ranges leave a gap or
     * overlap.
     */
    INCOMPLETE,
    /** A complete checkpoint of that step already exists. */
    EXISTS,
    /** An argument does not fit the checkpoint: an unknown tensor or slot, a range past the end. */
    ARGUMENT,
    /** The filesystem failed (permission denied, disk full, ...). */
    IO;

    /**
     * Whether the problem is in what the caller asked for or in the checkpoint's format (INVALID_ARGUMENT),
     * rather than in the state of the files on disk (FAILED_PRECONDITION): DTYPE, MALFORMED, VERSION,
     * ARGUMENT.
     */
    public boolean isInvalidArgument() {
      return this == DTYPE || this == MALFORMED || this == VERSION || this == ARGUMENT;
    }
  }

  private final Kind kind;
  private final transient Path file;

  public CheckpointException(Kind kind, Path file, String problem) {
    this(kind, file, problem, null);
  }

  public CheckpointException(Kind kind, Path file, String problem, Throwable cause) {
    super(oneLine((file == null ? "" : file + ": ") + problem), cause);
    this.kind = kind;
    this.file = file;
  }

  public Kind kind() {
    return kind;
  }

  /** The file or directory the problem is about (null if none). */
  public Path file() {
    return file;
  }

  static String oneLine(String s) {
    return s.replaceAll("[\\r\\n]+", " ");
  }

  /** An IOException from the filesystem, with the file in front and the kind MISSING or IO. */
  static CheckpointException io(Path file, String verb, IOException e) {
    if (e instanceof CheckpointException c) {
      return c;
    }
    if (e instanceof java.nio.file.NoSuchFileException) {
      return new CheckpointException(Kind.MISSING, file, "missing (cannot " + verb + ": no such file)", e);
    }
    String msg = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    if (e instanceof java.nio.file.AccessDeniedException) {
      msg = "permission denied";
    }
    return new CheckpointException(Kind.IO, file, "cannot " + verb + ": " + msg, e);
  }
}
