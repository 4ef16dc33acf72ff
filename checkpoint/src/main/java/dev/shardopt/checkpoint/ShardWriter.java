package dev.shardopt.checkpoint;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.zip.CRC32C;

/**
 * Writes a worker's element ranges into the files of a checkpoint being written (the worker's side). The
 * files must exist with their headers and full length ({@link CheckpointLayout#create}); the writer reads
 * each file's npy header once and refuses a range outside the tensor.
 *
 * <p>Each {@link #write} converts the floats to little-endian bytes in a direct buffer, computes the CRC32C
 * of exactly those bytes on the same pass, writes them with positional writes (so any number of threads and
 * processes can write different ranges of one file at once), forces them to disk, and returns the range to
 * report to the coordinator. A caller writing many ranges can instead {@link #writeUnforced} them all and
 * then {@link #force} once: one fsync per file rather than one per range, and the kernel writes the earlier
 * ranges back while the later ones are written. Thread-safe.
 */
public final class ShardWriter implements Closeable {

  /**
   * The staging buffer's size: the floats are converted into it, CRC'd and written from it while it
   * is still in the core's cache (1 MiB wrote 600 MB about 7% faster than 4 MiB here, 256 KiB 25%
   * slower: more system calls).
   */
  static final int CHUNK = 1 << 20;

  private final Path dir;
  private final Map<String, OpenFile> files = new ConcurrentHashMap<>();
  private final ConcurrentLinkedQueue<ByteBuffer> buffers = new ConcurrentLinkedQueue<>();
  private volatile boolean closed;

  private record OpenFile(String name, Path file, FileChannel channel, long dataOffset, long elements) {}

  private ShardWriter(Path dir) {
    this.dir = dir;
  }

  /** A writer into the checkpoint directory {@code dir} (the pending checkpoint's attempt directory). */
  public static ShardWriter open(Path dir) {
    return new ShardWriter(dir);
  }

  public Path dir() {
    return dir;
  }

  /**
   * Writes {@code src[srcOffset, srcOffset + length)} as elements {@code [elementOffset, elementOffset +
   * length)} of {@code tensor}'s {@code slot} ({@code ""} for the parameters), forces them to disk, and
   * returns the byte range written with its CRC32C.
   *
   * @throws CheckpointException MISSING if the file is not there, MALFORMED if its header is not a '<f4'
   *     npy header, ARGUMENT if the range does not fit the tensor, IO on a write failure
   */
  public FileRange write(String tensor, String slot, long elementOffset, float[] src, int srcOffset, int length)
      throws CheckpointException {
    OpenFile f = file(FileNames.fileName(tensor, slot == null ? "" : slot));
    FileRange r = writeRange(f, elementOffset, src, srcOffset, length);
    force(f);
    return r;
  }

  /** {@link #write(String, String, long, float[], int, int)} of the whole array. */
  public FileRange write(String tensor, String slot, long elementOffset, float[] src) throws CheckpointException {
    return write(tensor, slot, elementOffset, src, 0, src.length);
  }

  /**
   * {@link #write(String, String, long, float[], int, int)} of the whole array, without forcing it to disk:
   * the range may be reported to the coordinator only after {@link #force} has returned.
   */
  public FileRange writeUnforced(String tensor, String slot, long elementOffset, float[] src)
      throws CheckpointException {
    OpenFile f = file(FileNames.fileName(tensor, slot == null ? "" : slot));
    return writeRange(f, elementOffset, src, 0, src.length);
  }

  /**
   * Writes {@code length} elements read from {@code source} as elements {@code [elementOffset,
   * elementOffset + length)} of {@code tensor}'s {@code slot}, chunk by chunk, without forcing them to
   * disk; as {@link #writeUnforced(String, String, long, float[])} otherwise.
   */
  public FileRange writeUnforced(String tensor, String slot, long elementOffset, long length, FloatSource source)
      throws CheckpointException {
    OpenFile f = file(FileNames.fileName(tensor, slot == null ? "" : slot));
    float[] chunk = new float[(int) Math.min(length, CHUNK / 4)];
    return writeRange(f, elementOffset, length, (into, from, n) -> {
      source.read(from, chunk, n);
      into.put(chunk, 0, n);
    });
  }

  /**
   * Forces every file written through this writer to disk (one fsync each), so that the ranges {@link
   * #writeUnforced} returned may be reported.
   *
   * @throws CheckpointException IO on a failure
   */
  public void force() throws CheckpointException {
    if (closed) {
      throw new IllegalStateException("the writer is closed");
    }
    List<OpenFile> open = List.copyOf(files.values());
    if (open.size() <= 1) {
      for (OpenFile f : open) {
        force(f);
      }
      return;
    }
    // All at once, one thread each: a journaling filesystem (ext4, XFS) commits concurrent fsyncs
    // together, where one after the other each waits for a journal commit and a device flush.
    List<Thread> threads = new ArrayList<>();
    CheckpointException[] failure = new CheckpointException[1];
    for (OpenFile f : open) {
      Thread t = new Thread(() -> {
        try {
          force(f);
        } catch (CheckpointException e) {
          synchronized (failure) {
            if (failure[0] == null) {
              failure[0] = e;
            }
          }
        }
      }, "fsync " + f.name);
      t.setDaemon(true);
      threads.add(t);
      t.start();
    }
    boolean interrupted = false;
    for (Thread t : threads) {
      while (true) {
        try {
          t.join();
          break;
        } catch (InterruptedException e) {
          interrupted = true; // the files must be forced before the ranges are reported
        }
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
    synchronized (failure) {
      if (failure[0] != null) {
        throw failure[0];
      }
    }
  }

  private static void force(OpenFile f) throws CheckpointException {
    try {
      f.channel.force(false);
    } catch (IOException e) {
      throw CheckpointException.io(f.file, "write", e);
    }
  }

  /** Puts elements {@code [from, from + n)} of a range into a chunk's buffer. */
  @FunctionalInterface
  private interface Chunks {
    void put(FloatBuffer into, long from, int n);
  }

  private FileRange writeRange(OpenFile f, long elementOffset, float[] src, int srcOffset, int length)
      throws CheckpointException {
    java.util.Objects.checkFromIndexSize(srcOffset, length, src.length);
    return writeRange(f, elementOffset, length, (into, from, n) -> into.put(src, srcOffset + (int) from, n));
  }

  private FileRange writeRange(OpenFile f, long elementOffset, long length, Chunks chunks)
      throws CheckpointException {
    Coverage.checkElements(f.file, elementOffset, length, f.elements);
    long start = f.dataOffset + 4 * elementOffset;
    CRC32C crc = new CRC32C();
    ByteBuffer buf = borrow();
    try {
      long pos = start;
      long done = 0;
      while (done < length) {
        int n = (int) Math.min(buf.capacity() / 4, length - done);
        buf.clear();
        chunks.put(buf.asFloatBuffer(), done, n);
        buf.limit(4 * n);
        crc.update(buf);
        buf.flip();
        Io.writeFully(f.channel, buf, pos);
        pos += 4L * n;
        done += n;
      }
    } catch (IOException e) {
      throw CheckpointException.io(f.file, "write", e);
    } finally {
      buffers.add(buf);
    }
    return new FileRange(f.name, start, 4L * length, (int) crc.getValue());
  }

  private ByteBuffer borrow() {
    ByteBuffer b = buffers.poll();
    return b != null ? b : ByteBuffer.allocateDirect(CHUNK).order(ByteOrder.LITTLE_ENDIAN);
  }

  private OpenFile file(String name) throws CheckpointException {
    if (closed) {
      throw new IllegalStateException("the writer is closed");
    }
    OpenFile f = files.get(name);
    if (f != null) {
      return f;
    }
    synchronized (files) {
      f = files.get(name);
      if (f == null) {
        f = openFile(name, dir.resolve(name));
        files.put(name, f);
      }
      return f;
    }
  }

  private static OpenFile openFile(String name, Path file) throws CheckpointException {
    FileChannel ch;
    try {
      ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
    } catch (IOException e) {
      throw CheckpointException.io(file, "open", e);
    }
    try {
      NpyHeader h;
      try {
        h = NpyHeader.read(Io.positionalStream(ch, 0));
      } catch (NpyFormatException e) {
        throw new CheckpointException(CheckpointException.Kind.MALFORMED, file, e.getMessage()
            + " (the checkpoint's files are made by CheckpointLayout.create)");
      }
      long elements = h.elements();
      long expected = h.length() + 4 * elements;
      long size = ch.size();
      if (size != expected) {
        throw new CheckpointException(CheckpointException.Kind.TRUNCATED, file, "size " + size + " expected "
            + expected + " (header " + h.length() + " + 4 x " + elements + " elements)");
      }
      return new OpenFile(name, file, ch, h.length(), elements);
    } catch (IOException e) {
      try {
        ch.close();
      } catch (IOException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e instanceof CheckpointException c ? c : CheckpointException.io(file, "read the header of", e);
    }
  }

  /** Closes every file (what {@link #write} or {@link #force} returned from is already on disk). */
  @Override
  public void close() throws IOException {
    closed = true;
    List<IOException> errors = new ArrayList<>();
    synchronized (files) {
      for (OpenFile f : files.values()) {
        try {
          f.channel.close();
        } catch (IOException e) {
          errors.add(e);
        }
      }
      files.clear();
    }
    if (!errors.isEmpty()) {
      IOException first = errors.get(0);
      errors.subList(1, errors.size()).forEach(first::addSuppressed);
      throw first;
    }
  }
}
