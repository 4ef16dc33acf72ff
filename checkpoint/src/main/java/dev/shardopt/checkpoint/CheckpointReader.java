package dev.shardopt.checkpoint;

import dev.shardopt.v1.CheckpointManifest;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.stream.Stream;
import java.util.zip.CRC32C;

/**
 * Reads a complete checkpoint: its manifest, a check of every file, and element ranges for the workers
 * restoring their shards. Thread-safe.
 *
 * <p>{@link #open} takes a checkpoint directory ({@code step-<s>}) or a checkpoint root, where it picks the
 * latest complete checkpoint: directories without a manifest (interrupted or failed writes) and attempt
 * directories are skipped and listed in {@link #skipped()}; a newest checkpoint whose manifest is present but
 * invalid is an error, not skipped, since no crash produces one (the manifest is renamed into place whole).
 */
public final class CheckpointReader implements Closeable {

  /** A directory {@link #open} passed over, and why. */
  public record Skipped(Path dir, String reason) {}

  private final Path dir;
  private final CheckpointManifest manifest;
  private final CheckpointPlan plan;
  private final Map<String, CheckpointManifest.File> entries = new HashMap<>();
  private final List<Skipped> skipped;
  private final Map<String, FileChannel> channels = new ConcurrentHashMap<>();
  private final ConcurrentLinkedQueue<ByteBuffer> buffers = new ConcurrentLinkedQueue<>();

  private CheckpointReader(Path dir, CheckpointManifest manifest, List<Skipped> skipped) throws CheckpointException {
    this.dir = dir;
    this.manifest = manifest;
    this.skipped = List.copyOf(skipped);
    Path mf = dir.resolve(Manifests.FILE_NAME);
    OptionalLong named = CheckpointLayout.stepOf(dir.getFileName() == null ? "" : dir.getFileName().toString());
    if (named.isPresent() && named.getAsLong() != manifest.getStep()) {
      throw new CheckpointException(CheckpointException.Kind.MALFORMED, mf, "the manifest is of step "
          + manifest.getStep() + " but the directory is " + dir.getFileName());
    }
    for (CheckpointManifest.File f : manifest.getFilesList()) {
      long[] shape = f.getShapeList().stream().mapToLong(Long::longValue).toArray();
      String expected;
      try {
        expected = FileNames.fileName(f.getTensor(), f.getSlot());
      } catch (IllegalArgumentException e) {
        throw new CheckpointException(CheckpointException.Kind.MALFORMED, mf, "file '" + Manifests.quote(f.getPath())
            + "': " + e.getMessage());
      }
      // The path must be the escaped name: no manifest can make a reader open a file elsewhere.
      if (!f.getPath().equals(expected)) {
        throw new CheckpointException(CheckpointException.Kind.MALFORMED, mf, "file '" + Manifests.quote(f.getPath())
            + "' of tensor '" + Manifests.quote(f.getTensor()) + "' should be named " + expected);
      }
      long n = NpyHeader.elementCount(shape);
      if (n < 0 || Arrays.stream(shape).anyMatch(d -> d < 0) || f.getDataOffset() + 4 * n != f.getSizeBytes()) {
        throw new CheckpointException(CheckpointException.Kind.MALFORMED, mf, "file " + f.getPath() + ": size "
            + f.getSizeBytes() + " does not fit data offset " + f.getDataOffset() + " and shape " + Arrays.toString(shape));
      }
      if (entries.put(f.getPath(), f) != null) {
        throw new CheckpointException(CheckpointException.Kind.MALFORMED, mf, "file " + f.getPath() + " is listed twice");
      }
    }
    try {
      this.plan = CheckpointPlan.of(manifest);
    } catch (IllegalArgumentException e) {
      throw new CheckpointException(CheckpointException.Kind.MALFORMED, mf, e.getMessage());
    }
  }

  /**
   * Opens the checkpoint at {@code path}: a checkpoint directory (one with a manifest), or a root, where the
   * latest complete {@code step-<s>} is picked (see the class comment). Checks the manifest (JSON, format
   * version, its own checksum, file names and sizes), not the files: call {@link #verify} for those.
   *
   * @throws CheckpointException MISSING if there is no such directory or no complete checkpoint under it,
   *     INCOMPLETE for a checkpoint directory without a manifest, VERSION/MALFORMED/CHECKSUM for a manifest
   *     that cannot be trusted
   */
  public static CheckpointReader open(Path path) throws CheckpointException {
    if (!Files.isDirectory(path)) {
      throw new CheckpointException(CheckpointException.Kind.MISSING, path,
          Files.exists(path) ? "not a directory; expected a checkpoint directory or a directory of checkpoints"
              : "missing: no such directory");
    }
    String name = path.getFileName() == null ? "" : path.getFileName().toString();
    Path mf = path.resolve(Manifests.FILE_NAME);
    if (CheckpointLayout.isAttemptDir(name)) {
      throw new CheckpointException(CheckpointException.Kind.INCOMPLETE, path,
          "an unfinished attempt at a checkpoint (never committed); it cannot be read");
    }
    if (Files.exists(mf) || CheckpointLayout.stepOf(name).isPresent()) {
      return new CheckpointReader(path, Manifests.read(mf), List.of());
    }
    return latest(path);
  }

  private static CheckpointReader latest(Path root) throws CheckpointException {
    List<Path> children;
    try (Stream<Path> s = Files.list(root)) {
      children = s.toList();
    } catch (IOException e) {
      throw CheckpointException.io(root, "list", e);
    }
    List<Skipped> skipped = new ArrayList<>();
    List<Path> steps = new ArrayList<>();
    for (Path p : children) {
      String n = p.getFileName().toString();
      if (CheckpointLayout.isAttemptDir(n)) {
        skipped.add(new Skipped(p, "an unfinished attempt (never committed)"));
      } else if (CheckpointLayout.stepOf(n).isPresent() && Files.isDirectory(p)) {
        steps.add(p);
      }
    }
    steps.sort(Comparator.comparingLong((Path p) -> CheckpointLayout.stepOf(p.getFileName().toString()).getAsLong())
        .reversed());
    for (Path p : steps) {
      Path mf = p.resolve(Manifests.FILE_NAME);
      if (!Files.exists(mf)) {
        skipped.add(new Skipped(p, "incomplete: no " + Manifests.FILE_NAME));
        continue;
      }
      try {
        return new CheckpointReader(p, Manifests.read(mf), skipped);
      } catch (CheckpointException e) {
        if (e.kind() == CheckpointException.Kind.INCOMPLETE) { // deleted meanwhile
          skipped.add(new Skipped(p, "incomplete: no " + Manifests.FILE_NAME));
          continue;
        }
        throw new CheckpointException(e.kind(), e.file(), e.getMessage().substring(
            e.file() == null ? 0 : (e.file() + ": ").length()) + "; this is the latest checkpoint under " + root
            + ": fix or delete it, or pass an older checkpoint's directory", e);
      }
    }
    StringBuilder why = new StringBuilder("no complete checkpoint (a step-NNNNNNNNNN directory with a "
        + Manifests.FILE_NAME + ")");
    if (!skipped.isEmpty()) {
      why.append("; skipped: ");
      for (int i = 0; i < skipped.size(); i++) {
        why.append(i == 0 ? "" : ", ").append(skipped.get(i).dir().getFileName()).append(" (")
            .append(skipped.get(i).reason()).append(')');
      }
    }
    throw new CheckpointException(CheckpointException.Kind.MISSING, root, why.toString());
  }

  /** The checkpoint directory read. */
  public Path dir() {
    return dir;
  }

  public long step() {
    return manifest.getStep();
  }

  public CheckpointManifest manifest() {
    return manifest;
  }

  /** The files, in the manifest's order. */
  public CheckpointPlan plan() {
    return plan;
  }

  /** The newer directories {@link #open} passed over to pick this one (empty if opened directly). */
  public List<Skipped> skipped() {
    return skipped;
  }

  // ---------------------------------------------------------------------------------------------- verify

  /**
   * Checks every file against the manifest: present, of its size, an npy header with dtype '<f4', C order and
   * the manifest's shape, and the CRC32C of the whole file (streamed). Stops at the first problem.
   *
   * @throws CheckpointException MISSING, TRUNCATED (size X expected Y), DTYPE, SHAPE, MALFORMED or CHECKSUM
   *     (got X expected Y), naming the file
   */
  public void verify() throws CheckpointException {
    for (CheckpointManifest.File f : manifest.getFilesList()) {
      verify(f);
    }
  }

  /**
   * The checks of {@link #verify()} without reading the data: every file present, of its size, with an
   * npy header of dtype '<f4', C order and the manifest's shape. A restore makes these before anything is
   * created, and checks the data's checksums with the ranges the workers read ({@link #checkRanges}).
   *
   * @throws CheckpointException MISSING, TRUNCATED, DTYPE, SHAPE or MALFORMED, naming the file
   */
  public void checkFiles() throws CheckpointException {
    for (CheckpointManifest.File f : manifest.getFilesList()) {
      Path file = dir.resolve(f.getPath());
      try {
        checkSizeAndHeader(file, f, channel(f));
      } catch (IOException e) {
        throw CheckpointException.io(file, "read", e);
      }
    }
  }

  /** {@link #verify()} of one file. */
  public void verify(String tensor, String slot) throws CheckpointException {
    verify(entry(tensor, slot));
  }

  private void verify(CheckpointManifest.File f) throws CheckpointException {
    Path file = dir.resolve(f.getPath());
    FileChannel ch = channel(f);
    try {
      checkSizeAndHeader(file, f, ch);
      CRC32C crc = new CRC32C();
      ByteBuffer buf = borrow();
      try {
        long pos = 0;
        long size = f.getSizeBytes();
        while (pos < size) {
          buf.clear();
          buf.limit((int) Math.min(buf.capacity(), size - pos));
          if (!Io.readFully(ch, buf, pos)) {
            throw truncated(file, ch.size(), size);
          }
          buf.flip();
          crc.update(buf);
          pos += buf.limit();
        }
      } finally {
        buffers.add(buf);
      }
      int got = (int) crc.getValue();
      if (got != f.getCrc32C()) {
        throw new CheckpointException(CheckpointException.Kind.CHECKSUM, file, "checksum mismatch: CRC32C got "
            + Manifests.hex(got) + " expected " + Manifests.hex(f.getCrc32C()) + " (the file is corrupted)");
      }
    } catch (IOException e) {
      throw CheckpointException.io(file, "read", e);
    }
  }

  private static CheckpointException truncated(Path file, long size, long expected) {
    return new CheckpointException(CheckpointException.Kind.TRUNCATED, file,
        (size < expected ? "truncated: size " : "wrong size: size ") + size + " expected " + expected);
  }

  private static void checkSizeAndHeader(Path file, CheckpointManifest.File f, FileChannel ch) throws IOException {
    long size = ch.size();
    if (size != f.getSizeBytes()) {
      throw truncated(file, size, f.getSizeBytes());
    }
    NpyHeader h;
    try {
      h = NpyHeader.read(Io.positionalStream(ch, 0));
    } catch (NpyFormatException e) {
      CheckpointException.Kind kind = switch (e.reason()) {
        case DTYPE, FORTRAN_ORDER -> CheckpointException.Kind.DTYPE;
        default -> CheckpointException.Kind.MALFORMED;
      };
      throw new CheckpointException(kind, file, e.getMessage());
    }
    long[] expected = f.getShapeList().stream().mapToLong(Long::longValue).toArray();
    if (!Arrays.equals(h.shape(), expected)) {
      throw new CheckpointException(CheckpointException.Kind.SHAPE, file, "shape mismatch: the npy header has "
          + Arrays.toString(h.shape()) + ", the manifest " + Arrays.toString(expected));
    }
    if (h.length() != f.getDataOffset()) {
      throw new CheckpointException(CheckpointException.Kind.MALFORMED, file, "the npy header is " + h.length()
          + " bytes, the manifest says the data starts at " + f.getDataOffset());
    }
  }

  // ------------------------------------------------------------------------------------------------ read

  /**
   * Reads elements {@code [elementOffset, elementOffset + length)} of {@code tensor}'s {@code slot} ({@code ""}
   * for the parameters) into {@code out[outOffset, ...)} with positional reads, and returns the byte range
   * read with its CRC32C (see {@link #checkRanges}).
   *
   * @throws CheckpointException ARGUMENT for an unknown tensor or slot or a range outside the tensor,
   *     MISSING/TRUNCATED if the file is not there whole
   */
  public FileRange readRange(String tensor, String slot, long elementOffset, float[] out, int outOffset, int length)
      throws CheckpointException {
    java.util.Objects.checkFromIndexSize(outOffset, length, out.length);
    return readChunks(tensor, slot, elementOffset, length, (chunk, at, n) -> chunk.get(out, outOffset + (int) at, n));
  }

  /**
   * {@link #readRange(String, String, long, float[], int, int)} into {@code sink}, chunk by chunk
   * through a small buffer, instead of one heap array.
   */
  public FileRange readRange(String tensor, String slot, long elementOffset, long length, FloatSink sink)
      throws CheckpointException {
    float[] values = new float[(int) Math.min(length, Io.CHUNK / 4)];
    return readChunks(tensor, slot, elementOffset, length, (chunk, at, n) -> {
      chunk.get(values, 0, n);
      sink.write(at, values, n);
    });
  }

  /** Takes elements {@code [at, at + n)} of a range, read into a chunk's buffer. */
  @FunctionalInterface
  private interface Chunks {
    void take(FloatBuffer chunk, long at, int n);
  }

  private FileRange readChunks(String tensor, String slot, long elementOffset, long length, Chunks chunks)
      throws CheckpointException {
    CheckpointManifest.File f = entry(tensor, slot);
    Path file = dir.resolve(f.getPath());
    long elements = (f.getSizeBytes() - f.getDataOffset()) / 4;
    Coverage.checkElements(file, elementOffset, length, elements);
    long start = f.getDataOffset() + 4 * elementOffset;
    FileChannel ch = channel(f);
    CRC32C crc = new CRC32C();
    ByteBuffer buf = borrow();
    try {
      long pos = start;
      long done = 0;
      while (done < length) {
        int n = (int) Math.min(buf.capacity() / 4, length - done);
        buf.clear();
        buf.limit(4 * n);
        if (!Io.readFully(ch, buf, pos)) {
          throw truncated(file, ch.size(), f.getSizeBytes());
        }
        buf.flip();
        crc.update(buf);
        buf.flip();
        chunks.take(buf.asFloatBuffer(), done, n);
        pos += 4L * n;
        done += n;
      }
    } catch (IOException e) {
      throw CheckpointException.io(file, "read", e);
    } finally {
      buffers.add(buf);
    }
    return new FileRange(f.getPath(), start, 4L * length, (int) crc.getValue());
  }

  /** {@link #readRange(String, String, long, float[], int, int)} filling all of {@code out}. */
  public FileRange readRange(String tensor, String slot, long elementOffset, float[] out) throws CheckpointException {
    return readRange(tensor, slot, elementOffset, out, 0, out.length);
  }

  /** The whole of {@code tensor}'s {@code slot}, flat in C order (at most 2^31 - 9 elements). */
  public float[] readAll(String tensor, String slot) throws CheckpointException {
    CheckpointManifest.File f = entry(tensor, slot);
    long n = (f.getSizeBytes() - f.getDataOffset()) / 4;
    if (n > Integer.MAX_VALUE - 8) {
      throw new CheckpointException(CheckpointException.Kind.ARGUMENT, dir.resolve(f.getPath()),
          n + " elements do not fit one Java array; read it in ranges");
    }
    float[] out = new float[(int) n];
    readRange(tensor, slot, 0, out);
    return out;
  }

  /**
   * Checks a restore in one pass: {@code ranges} are what the workers' {@link #readRange} calls returned,
   * which must cover the data of every file exactly; with each file's header (read and checked here) their
   * CRC32Cs combine into the file's, which must be the manifest's. Then every byte the workers loaded is the
   * byte that was checkpointed, without reading the files a second time.
   *
   * @throws CheckpointException INCOMPLETE for a gap or overlap, CHECKSUM for a mismatch, and the header
   *     problems of {@link #verify()}
   */
  public void checkRanges(Collection<FileRange> ranges) throws CheckpointException {
    Map<String, List<FileRange>> byPath = Coverage.byPath(dir, entries.keySet(), ranges);
    for (CheckpointManifest.File f : manifest.getFilesList()) {
      Path file = dir.resolve(f.getPath());
      FileChannel ch = channel(f);
      List<FileRange> list = byPath.get(f.getPath());
      try {
        checkSizeAndHeader(file, f, ch);
        ByteBuffer header = ByteBuffer.allocate((int) f.getDataOffset());
        Io.readFully(ch, header, 0);
        CRC32C hc = new CRC32C();
        hc.update(header.array());
        list.add(new FileRange(f.getPath(), 0, f.getDataOffset(), (int) hc.getValue()));
      } catch (IOException e) {
        throw CheckpointException.io(file, "read", e);
      }
      int got = Coverage.combine(file, f.getDataOffset(), f.getSizeBytes(), list, "read");
      if (got != f.getCrc32C()) {
        throw new CheckpointException(CheckpointException.Kind.CHECKSUM, file, "checksum mismatch: CRC32C got "
            + Manifests.hex(got) + " expected " + Manifests.hex(f.getCrc32C()) + " (the file is corrupted)");
      }
    }
  }

  private CheckpointManifest.File entry(String tensor, String slot) throws CheckpointException {
    String s = slot == null ? "" : slot;
    CheckpointManifest.File f = tensor == null || tensor.isEmpty() ? null : entries.get(FileNames.fileName(tensor, s));
    if (f == null || !f.getTensor().equals(tensor) || !f.getSlot().equals(s)) {
      throw new CheckpointException(CheckpointException.Kind.ARGUMENT, dir,
          "no file of tensor '" + Manifests.quote(String.valueOf(tensor)) + "'"
              + (s.isEmpty() ? " (parameters)" : ", slot '" + Manifests.quote(s) + "'") + " in this checkpoint");
    }
    return f;
  }

  private FileChannel channel(CheckpointManifest.File f) throws CheckpointException {
    FileChannel ch = channels.get(f.getPath());
    if (ch != null) {
      return ch;
    }
    synchronized (channels) {
      ch = channels.get(f.getPath());
      if (ch == null) {
        Path file = dir.resolve(f.getPath());
        try {
          ch = FileChannel.open(file, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
          throw new CheckpointException(CheckpointException.Kind.MISSING, file, "missing: the manifest lists it ("
              + describe(f) + ") but there is no such file", e);
        } catch (IOException e) {
          throw CheckpointException.io(file, "open", e);
        }
        channels.put(f.getPath(), ch);
      }
      return ch;
    }
  }

  private static String describe(CheckpointManifest.File f) {
    return "tensor '" + Manifests.quote(f.getTensor()) + "'" + (f.getSlot().isEmpty() ? "" : ", slot '"
        + Manifests.quote(f.getSlot()) + "'");
  }

  private ByteBuffer borrow() {
    ByteBuffer b = buffers.poll();
    return b != null ? b : ByteBuffer.allocateDirect(Io.CHUNK).order(ByteOrder.LITTLE_ENDIAN);
  }

  @Override
  public void close() throws IOException {
    IOException first = null;
    synchronized (channels) {
      for (FileChannel ch : channels.values()) {
        try {
          ch.close();
        } catch (IOException e) {
          if (first == null) {
            first = e;
          } else {
            first.addSuppressed(e);
          }
        }
      }
      channels.clear();
    }
    if (first != null) {
      throw first;
    }
  }
}
