package dev.shardopt.checkpoint;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Checks that ranges cover a file exactly, and combines their CRC32Cs into the file's. */
final class Coverage {

  private Coverage() {}

  /** Fails with ARGUMENT unless elements {@code [offset, offset + length)} lie in a tensor of {@code elements}. */
  static void checkElements(Path file, long offset, long length, long elements) throws CheckpointException {
    if (offset < 0 || length < 0 || offset > elements - length) {
      throw new CheckpointException(CheckpointException.Kind.ARGUMENT, file, "elements [" + offset + ", "
          + (offset + length) + ") are outside the tensor's " + elements + " elements");
    }
  }

  /**
   * {@code ranges} by file, with an entry (maybe empty) for each of {@code paths}; ARGUMENT for a range of
   * another file.
   */
  static Map<String, List<FileRange>> byPath(Path dir, Iterable<String> paths, Collection<FileRange> ranges)
      throws CheckpointException {
    Map<String, List<FileRange>> out = new LinkedHashMap<>();
    for (String p : paths) {
      out.put(p, new ArrayList<>());
    }
    for (FileRange r : ranges) {
      List<FileRange> list = out.get(r.path());
      if (list == null) {
        throw new CheckpointException(CheckpointException.Kind.ARGUMENT, dir.resolve(r.path()),
            "a range " + r + " was reported for a file that is not part of the checkpoint");
      }
      list.add(r);
    }
    return out;
  }

  /**
   * The CRC32C of the whole file from {@code ranges} (the header's included), which must cover
   * {@code [0, size)} with no gap and no overlap.
   *
   * @param what what wrote or read the ranges, for messages ("written", "read")
   * @throws CheckpointException INCOMPLETE naming the first gap or overlap, ARGUMENT for a range past the end
   */
  static int combine(Path file, long dataOffset, long size, List<FileRange> ranges, String what)
      throws CheckpointException {
    List<FileRange> sorted = new ArrayList<>(ranges);
    sorted.sort(Comparator.comparingLong(FileRange::offset).thenComparingLong(FileRange::length));
    long pos = 0;
    int crc = 0;
    for (FileRange r : sorted) {
      if (r.length() == 0) {
        continue;
      }
      if (r.end() > size) {
        throw new CheckpointException(CheckpointException.Kind.ARGUMENT, file, "range " + span(r.offset(), r.end(), dataOffset)
            + " is past the end of the file (" + size + " bytes)");
      }
      if (r.offset() > pos) {
        throw gap(file, pos, r.offset(), dataOffset, what);
      }
      if (r.offset() < pos) {
        throw new CheckpointException(CheckpointException.Kind.INCOMPLETE, file, "bytes "
            + span(r.offset(), Math.min(pos, r.end()), dataOffset) + " were " + what
            + " twice (overlapping ranges); each byte must be reported by exactly one worker");
      }
      crc = Crc32cCombine.combine(crc, r.crc32c(), r.length());
      pos = r.end();
    }
    if (pos < size) {
      throw gap(file, pos, size, dataOffset, what);
    }
    return crc;
  }

  private static CheckpointException gap(Path file, long from, long to, long dataOffset, String what) {
    return new CheckpointException(CheckpointException.Kind.INCOMPLETE, file, "bytes " + span(from, to, dataOffset)
        + " were not " + what + ": no worker reported them");
  }

  /** {@code [a, b)} with the elements it holds when it lies in the data. */
  private static String span(long from, long to, long dataOffset) {
    String s = "[" + from + ", " + to + ")";
    if (from >= dataOffset && (from - dataOffset) % 4 == 0 && (to - dataOffset) % 4 == 0) {
      s += " (elements [" + (from - dataOffset) / 4 + ", " + (to - dataOffset) / 4 + "))";
    }
    return s;
  }
}
