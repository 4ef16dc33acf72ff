package dev.shardopt.client;

import java.util.Map;
import java.util.TreeMap;

/**
 * Which element ranges of one tensor have been seen, and from whom; refuses an overlap at once and
 * reports the first gap at the end. Not thread-safe.
 */
final class Coverage {
  private record Range(long end, String source) {}

  private final String tensor;
  private final long length;
  private final TreeMap<Long, Range> ranges = new TreeMap<>();
  private long covered;

  Coverage(String tensor, long length) {
    this.tensor = tensor;
    this.length = length;
  }

  /**
   * Marks {@code [offset, offset + count)} as covered by {@code source}.
   *
   * @return null, or why it cannot be: out of range, empty, or overlapping a range seen before
   */
  String add(long offset, long count, String source) {
    if (count <= 0) {
      return "tensor '" + tensor + "': an empty range at offset " + offset + " from " + source;
    }
    if (offset < 0 || offset > length - count) {
      return "tensor '" + tensor + "': elements [" + offset + ", " + (offset + count) + ") from "
          + source + " lie beyond its " + length + " elements";
    }
    long end = offset + count;
    Map.Entry<Long, Range> before = ranges.floorEntry(offset);
    if (before != null && before.getValue().end() > offset) {
      return overlap(offset, end, source, before);
    }
    Map.Entry<Long, Range> after = ranges.ceilingEntry(offset);
    if (after != null && after.getKey() < end) {
      return overlap(offset, end, source, after);
    }
    ranges.put(offset, new Range(end, source));
    covered += count;
    return null;
  }

  private String overlap(long offset, long end, String source, Map.Entry<Long, Range> other) {
    return "tensor '" + tensor + "': elements [" + offset + ", " + end + ") from " + source
        + " overlap elements [" + other.getKey() + ", " + other.getValue().end() + ") from "
        + other.getValue().source();
  }

  /** Forgets every range {@code source} covered (its answer is to be fetched again). */
  void forget(String source) {
    var it = ranges.entrySet().iterator();
    while (it.hasNext()) {
      Map.Entry<Long, Range> e = it.next();
      if (e.getValue().source().equals(source)) {
        covered -= e.getValue().end() - e.getKey();
        it.remove();
      }
    }
  }

  boolean complete() {
    return covered == length;
  }

  /** Null when every element is covered, else the first missing range. */
  String firstGap() {
    if (covered == length) {
      return null;
    }
    long next = 0;
    for (Map.Entry<Long, Range> e : ranges.entrySet()) {
      if (e.getKey() > next) {
        return gap(next, e.getKey());
      }
      next = e.getValue().end();
    }
    return gap(next, length);
  }

  private String gap(long from, long to) {
    return "tensor '" + tensor + "' (" + length + " elements): elements [" + from + ", " + to
        + ") are missing";
  }
}
