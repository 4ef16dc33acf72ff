package dev.shardopt.cli.io;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A tensor file could not be read or written. The message is one line: the file, what is wrong, and what is
 * allowed, e.g. {@code grads.npy: unsupported dtype: got '<f8', only '<f4' (little-endian float32) is
 * supported}. The CLI prints it as a user error ({@code shardopt: <message>}, exit status 2).
 */
public class TensorFileException extends IOException {

  private static final long serialVersionUID = 1L;

  private final transient Path file;

  public TensorFileException(Path file, String problem) {
    this(file, problem, null);
  }

  public TensorFileException(Path file, String problem, Throwable cause) {
    super(oneLine(file + ": " + problem), cause);
    this.file = file;
  }

  /** The file the problem is about. */
  public Path file() {
    return file;
  }

  static String oneLine(String s) {
    return s.replaceAll("[\\r\\n]+", " ");
  }
}
