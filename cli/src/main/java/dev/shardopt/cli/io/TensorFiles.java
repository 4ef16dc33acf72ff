package dev.shardopt.cli.io;

import dev.shardopt.checkpoint.NpyFormatException;
import dev.shardopt.checkpoint.NpyHeader;
import java.io.BufferedOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.LocalDateTime;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

/**
 * Reads and writes NumPy tensor files: {@code .npy} (one tensor, named {@value #NPY_NAME}) and {@code .npz}
 * (a zip of {@code NAME.npy} entries, deflated or stored; the tensor's name is NAME, dots allowed). Only
 * NPY format 1.0/2.0 with dtype {@code <f4} in C order is accepted; anything else fails with a
 * {@link TensorFileException} whose one-line message names the file, the problem and what is allowed.
 *
 * <p>Writing is atomic: the file is written to a temporary file in the target's directory and renamed into
 * place, so a failure never leaves a partial output (an existing file stays as it was).
 *
 * <p><b>Why not ND4J's readers.</b> Measured on this project's machine (2 cores, JDK 17, ND4J 1.0.0-M2.1
 * nd4j-native linux-x86_64) against the 32 conformance cases in {@code shared/reference}:
 * <ul>
 *   <li>{@code Nd4j.createFromNpzFile} fails on all 6 {@code .npz} files there ("Unsupported data type: M"):
 *       it reads the zip entries' bytes without inflating them, and those archives are deflated (as
 *       {@code numpy.savez_compressed} writes). On a stored zip it works, but returns a {@code HashMap}, so
 *       the order of the tensors is lost.</li>
 *   <li>{@code Nd4j.createFromNpyFile} read the 90 {@code .npy} files bit-exactly, but: a Fortran-order file
 *       is silently read as C order (wrong values); a truncated file is read past its end (garbage values,
 *       no error); a big-endian {@code >f4} file aborts the JVM (native assertion in cnpy, exit 134);
 *       {@code <f8} is accepted as DOUBLE; NPY 2.0 is refused.</li>
 *   <li>Start-up: the first call on a machine unpacks 397 MB of native libraries into
 *       {@code ~/.javacpp/cache} and takes 3.5 s; every later call pays 0.5-1.4 s of native initialisation
 *       ({@code Nd4j.zeros(1)}) before reading anything; reading the 90 {@code .npy} files took 1.0-2.1 s
 *       in all. The jars add ~130 MB to the classpath (the native one alone is 91 MB).</li>
 * </ul>
 * This codec (java.util.zip and a strict header parser) reads all 96 files (2.08 M floats, npz included)
 * in 0.19-0.27 s, 0.27-0.37 s for the whole JVM run, and rejects each bad case above with a message.
 */
public final class TensorFiles {

  /** The name of the one tensor of an {@code .npy} file. */
  public static final String NPY_NAME = "param";

  /** The most elements one tensor may have (a Java float[] limit). */
  public static final long MAX_ELEMENTS = Integer.MAX_VALUE - 8;

  private static final String EXTENSIONS =
      "expected a file ending in .npy (one tensor) or .npz (named tensors)";

  private TensorFiles() {}

  /** The kinds of tensor file, chosen by the file name's extension. */
  public enum Format {
    NPY,
    NPZ;

    /** The format of {@code file} by its extension (case-insensitive), or an error naming the file. */
    public static Format of(Path file) throws TensorFileException {
      Path name = file.getFileName();
      String n = name == null ? "" : name.toString().toLowerCase(Locale.ROOT);
      if (n.endsWith(".npy")) {
        return NPY;
      }
      if (n.endsWith(".npz")) {
        return NPZ;
      }
      throw new TensorFileException(file, "unsupported extension; " + EXTENSIONS);
    }
  }

  // ------------------------------------------------------------------------------------------------ read

  /**
   * Reads the tensors of an {@code .npy} (one tensor named {@value #NPY_NAME}) or {@code .npz} file, in the
   * file's order (for an {@code .npz}, the zip's central directory order, which is the order they were
   * written in).
   */
  public static LinkedHashMap<String, Tensor> read(Path file) throws TensorFileException {
    Format format = Format.of(file);
    if (Files.isDirectory(file)) {
      throw new TensorFileException(file, "is a directory; " + EXTENSIONS);
    }
    return format == Format.NPY ? readNpy(file) : readNpz(file);
  }

  private static LinkedHashMap<String, Tensor> readNpy(Path file) throws TensorFileException {
    try (InputStream in = Files.newInputStream(file)) {
      LinkedHashMap<String, Tensor> out = new LinkedHashMap<>();
      out.put(NPY_NAME, NpyCodec.read(in));
      return out;
    } catch (NpyFormatException e) {
      throw new TensorFileException(file, e.getMessage());
    } catch (IOException e) {
      throw ioError(file, "read", e);
    }
  }

  private static LinkedHashMap<String, Tensor> readNpz(Path file) throws TensorFileException {
    if (!Files.exists(file)) {
      throw new TensorFileException(file, "no such file");
    }
    if (!Files.isReadable(file)) {
      throw new TensorFileException(file, "cannot read: permission denied");
    }
    ZipFile zip;
    try {
      zip = new ZipFile(file.toFile());
    } catch (ZipException e) {
      throw new TensorFileException(file,
          "not an NPZ file (not a zip archive: " + e.getMessage() + "); expected a zip of NAME.npy entries"
              + " as numpy.savez / numpy.savez_compressed write", e);
    } catch (IOException e) {
      throw ioError(file, "read", e);
    }
    try (zip) {
      LinkedHashMap<String, Tensor> out = new LinkedHashMap<>();
      Enumeration<? extends ZipEntry> entries = zip.entries();
      for (int position = 1; entries.hasMoreElements(); position++) {
        ZipEntry entry = nextEntry(file, entries, position);
        String entryName = entry.getName();
        String where = "entry '" + NpyHeader.printable(entryName) + "'";
        if (entry.isDirectory() || !entryName.endsWith(".npy") || entryName.length() == ".npy".length()) {
          throw new TensorFileException(file, where + " does not end in .npy; an .npz holds only NAME.npy entries");
        }
        String key = entryName.substring(0, entryName.length() - ".npy".length());
        if (!isValidName(key)) {
          throw new TensorFileException(file, where + " names tensor '" + NpyHeader.printable(key) + "'; " + NAME_RULE);
        }
        if (out.containsKey(key)) {
          throw new TensorFileException(file, where + " appears twice");
        }
        try (InputStream in = zip.getInputStream(entry)) {
          out.put(key, NpyCodec.read(in));
        } catch (NpyFormatException e) {
          throw new TensorFileException(file, where + ": " + e.getMessage());
        } catch (ZipException | EOFException e) {
          throw new TensorFileException(file, where + ": corrupt zip data (" + e.getMessage() + ")", e);
        }
      }
      return out;
    } catch (TensorFileException e) {
      throw e;
    } catch (IOException e) {
      throw ioError(file, "read", e);
    }
  }

  private static final String NAME_RULE = "tensor names must be non-empty and contain no NUL character";

  /** The one rule for tensor names, on read and on write: what is read can be written back. */
  private static boolean isValidName(String name) {
    return name != null && !name.isEmpty() && name.indexOf('\0') < 0;
  }

  /**
   * The zip's next entry. The JDK checks entry names when it opens the zip, but decodes each entry's
   * comment as UTF-8 only here, and a comment that is not valid UTF-8 surfaces as an unchecked
   * IllegalArgumentException (found by TensorFilesFuzzTest); numpy writes no comments.
   */
  private static ZipEntry nextEntry(Path file, Enumeration<? extends ZipEntry> entries, int position)
      throws TensorFileException {
    try {
      return entries.nextElement();
    } catch (IllegalArgumentException e) {
      throw new TensorFileException(file, "entry " + position + " of the zip has a name or comment that is not valid UTF-8 ("
          + e.getMessage() + "); an .npz holds NAME.npy entries as numpy.savez writes them", e);
    }
  }

  // ----------------------------------------------------------------------------------------------- write

  /**
   * Writes {@code tensors} to {@code file}: an {@code .npy} takes exactly one tensor (its name is not stored;
   * it reads back as {@value #NPY_NAME}), an {@code .npz} takes any number, as deflated {@code NAME.npy}
   * entries in the map's iteration order. Atomic: see the class comment.
   */
  public static void write(Path file, Map<String, Tensor> tensors) throws TensorFileException {
    Objects.requireNonNull(tensors, "tensors");
    Format format = Format.of(file);
    if (format == Format.NPY && tensors.size() != 1) {
      throw new TensorFileException(file, "an .npy file holds exactly one tensor, got " + tensors.size()
          + "; use an .npz file for " + (tensors.isEmpty() ? "no tensors" : "several"));
    }
    for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
      String name = e.getKey();
      if (!isValidName(name)) {
        throw new TensorFileException(file, "invalid tensor name '" + (name == null ? "null" : NpyHeader.printable(name))
            + "'; " + NAME_RULE);
      }
      if (e.getValue() == null) {
        throw new TensorFileException(file, "tensor '" + NpyHeader.printable(name) + "' is null");
      }
    }
    if (Files.isDirectory(file)) {
      throw new TensorFileException(file, "cannot write: is a directory");
    }
    if (format == Format.NPY) {
      Tensor t = tensors.values().iterator().next();
      writeAtomically(file, out -> NpyCodec.write(out, t));
    } else {
      writeAtomically(file, out -> writeNpz(out, tensors));
    }
  }

  /** Writes one tensor to an {@code .npy} file (a shortcut for {@code write(file, Map.of("param", t))}). */
  public static void writeNpy(Path file, Tensor tensor) throws TensorFileException {
    write(file, Map.of(NPY_NAME, Objects.requireNonNull(tensor, "tensor")));
  }

  /** A fixed entry time (as numpy uses), so that the same tensors give the same bytes. */
  private static final LocalDateTime ENTRY_TIME = LocalDateTime.of(1980, 1, 1, 0, 0);

  private static void writeNpz(OutputStream out, Map<String, Tensor> tensors) throws IOException {
    ZipOutputStream zip = new ZipOutputStream(out);
    zip.setMethod(ZipOutputStream.DEFLATED);
    for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
      ZipEntry entry = new ZipEntry(e.getKey() + ".npy");
      entry.setTimeLocal(ENTRY_TIME);
      zip.putNextEntry(entry);
      NpyCodec.write(zip, e.getValue());
      zip.closeEntry();
    }
    zip.finish();
  }

  /** Writes the bytes that {@code body} produces to {@code out}. */
  @FunctionalInterface
  interface Body {
    void writeTo(OutputStream out) throws IOException;
  }

  /**
   * Writes to a temporary file beside {@code file}, forces it to disk and renames it onto {@code file};
   * on any failure the temporary file is deleted and {@code file} is left as it was.
   */
  static void writeAtomically(Path file, Body body) throws TensorFileException {
    Path abs = file.toAbsolutePath();
    Path dir = abs.getParent();
    if (dir == null || !Files.isDirectory(dir)) {
      throw new TensorFileException(file, "cannot write: directory " + dir + " does not exist");
    }
    Path tmp = dir.resolve("." + abs.getFileName() + "." + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
    boolean moved = false;
    try {
      try (FileChannel channel = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
        OutputStream out = new BufferedOutputStream(Channels.newOutputStream(channel), 1 << 16);
        body.writeTo(out);
        out.flush();
        channel.force(true);
      }
      try {
        Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
      }
      moved = true;
    } catch (IOException e) {
      throw ioError(file, "write", e);
    } finally {
      if (!moved) {
        try {
          Files.deleteIfExists(tmp);
        } catch (IOException ignored) {
          // best effort: the original error matters more
        }
      }
    }
  }

  private static TensorFileException ioError(Path file, String verb, IOException e) {
    if (e instanceof TensorFileException t) {
      return t;
    }
    if (e instanceof NoSuchFileException) {
      return new TensorFileException(file, "read".equals(verb) ? "no such file" : "cannot write: no such directory", e);
    }
    if (e instanceof AccessDeniedException) {
      return new TensorFileException(file, "cannot " + verb + ": permission denied", e);
    }
    String msg = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    return new TensorFileException(file, "cannot " + verb + ": " + msg, e);
  }
}
