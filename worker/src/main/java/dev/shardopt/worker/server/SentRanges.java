package dev.shardopt.worker.server;

import java.util.Arrays;

/**
 * The elements of one shard that a push has sent so far, as disjoint {@code [from, to)} ranges joined
 * where they touch. A trainer sends a shard's chunks in order, so the ranges stay one and each chunk
 * costs a comparison: a bit per element (3 MiB for a 25M-element shard, per push) is not needed to
 * tell a chunk sent twice or an element left out.
 */
final class SentRanges {
  private int[] starts = new int[2];
  private int[] ends = new int[2];
  private int count;
  private long elements;

  /**
   * Records {@code [from, to)}, or returns false and changes nothing when one of its elements was sent
   * already.
   */
  boolean add(int from, int to) {
    if (from < 0 || to < from) {
      throw new IllegalArgumentException("not a range: [" + from + ", " + to + ")");
    }
    if (from == to) {
      return true;
    }
    if (count > 0 && ends[count - 1] == from) { // the next chunk in order
      ends[count - 1] = to;
      elements += to - from;
      return true;
    }
    int at = firstStartAfter(from); // ranges before 'at' start at or before from
    if (at > 0 && ends[at - 1] > from || at < count && starts[at] < to) {
      return false;
    }
    boolean joinsLeft = at > 0 && ends[at - 1] == from;
    boolean joinsRight = at < count && starts[at] == to;
    if (joinsLeft && joinsRight) {
      ends[at - 1] = ends[at];
      remove(at);
    } else if (joinsLeft) {
      ends[at - 1] = to;
    } else if (joinsRight) {
      starts[at] = from;
    } else {
      insert(at, from, to);
    }
    elements += to - from;
    return true;
  }

  /** How many elements were sent. */
  long elements() {
    return elements;
  }

  /** The lowest element not sent. */
  int firstMissing() {
    return count > 0 && starts[0] == 0 ? ends[0] : 0;
  }

  private int firstStartAfter(int from) {
    int lo = 0;
    int hi = count;
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      if (starts[mid] <= from) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }

  private void insert(int at, int from, int to) {
    if (count == starts.length) {
      starts = Arrays.copyOf(starts, count * 2);
      ends = Arrays.copyOf(ends, count * 2);
    }
    System.arraycopy(starts, at, starts, at + 1, count - at);
    System.arraycopy(ends, at, ends, at + 1, count - at);
    starts[at] = from;
    ends[at] = to;
    count++;
  }

  private void remove(int at) {
    System.arraycopy(starts, at + 1, starts, at, count - at - 1);
    System.arraycopy(ends, at + 1, ends, at, count - at - 1);
    count--;
  }
}
