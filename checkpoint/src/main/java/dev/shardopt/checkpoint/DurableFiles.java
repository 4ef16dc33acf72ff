package dev.shardopt.checkpoint;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Crash-atomic, durable replacement of a small file: after a crash at any moment the file holds
 * either its old contents or the new ones, never a mix. The checkpoint manifest, the coordinator's
 * state dir and the trainers' state use it.
 */
public final class DurableFiles {
  /** What a temporary file's name ends with; a reader may delete such leftovers of a crash. */
  public static final String TEMP_SUFFIX = ".tmp";

  private DurableFiles() {}

  /**
   * Writes {@code contents} to {@code file} through {@code file + ".tmp"} in the same directory,
   * fsync, an atomic rename over {@code file}, and an fsync of the directory. On failure the
   * temporary file is removed and {@code file} is as it was.
   */
  public static void replace(Path file, byte[] contents) throws IOException {
    Path temp = file.resolveSibling(file.getFileName() + TEMP_SUFFIX);
    try {
      try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
          StandardOpenOption.TRUNCATE_EXISTING)) {
        Io.writeFully(ch, ByteBuffer.wrap(contents), 0);
        ch.force(true);
      }
      Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      try {
        Files.deleteIfExists(temp);
      } catch (IOException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
    fsyncDirectory(file.toAbsolutePath().getParent());
  }

  /** Forces a directory's entries to disk (fsync of the directory), so that a create or rename is durable. */
  public static void fsyncDirectory(Path dir) throws IOException {
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    } catch (IOException e) {
      // Some platforms (Windows) cannot open a directory; there the rename is as durable as it gets.
      if (!System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT).startsWith("windows")) {
        throw e;
      }
    }
  }
}
