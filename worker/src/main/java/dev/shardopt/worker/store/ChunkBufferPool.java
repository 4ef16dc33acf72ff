package dev.shardopt.worker.store;

import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Deque;
import java.util.Iterator;
import java.util.List;

/**
 * The byte buffers of encoded versions that no pull reads any more, kept for the next encoding:
 * on a VM a fresh 64 MiB allocation costs ~175 ms of page faults, a reused one nothing. Holds at
 * most {@code maxSets} versions' buffers (the oldest set goes to the GC), so memory does not grow
 * with the number of versions. Not thread-safe: its owner locks.
 */
final class ChunkBufferPool {
  private final int maxSets;
  private final Deque<byte[][]> sets = new ArrayDeque<>();
  private long allocated;

  ChunkBufferPool(int maxSets) {
    if (maxSets < 0) {
      throw new IllegalArgumentException("maxSets is " + maxSets + "; it must be 0 or more");
    }
    this.maxSets = maxSets;
  }

  /** Buffers of exactly {@code lengths} bytes each: a pooled set with that layout, or new arrays. */
  byte[][] take(int[] lengths) {
    for (Iterator<byte[][]> it = sets.iterator(); it.hasNext(); ) {
      byte[][] set = it.next();
      if (Arrays.equals(lengthsOf(set), lengths)) {
        it.remove();
        return set;
      }
    }
    byte[][] set = new byte[lengths.length][];
    for (int i = 0; i < lengths.length; i++) {
      set[i] = new byte[lengths[i]];
    }
    allocated += lengths.length;
    return set;
  }

  /** Gives back a set nobody reads any more. */
  void give(byte[][] set) {
    if (maxSets == 0) {
      return;
    }
    if (sets.size() == maxSets) {
      sets.removeLast();
    }
    sets.addFirst(set);
  }

  /** Sets held now (at most maxSets). */
  int pooled() {
    return sets.size();
  }

  /** Arrays allocated since this pool was made: stays flat while versions reuse pooled sets. */
  long allocated() {
    return allocated;
  }

  private static int[] lengthsOf(byte[][] set) {
    int[] l = new int[set.length];
    for (int i = 0; i < set.length; i++) {
      l[i] = set[i].length;
    }
    return l;
  }

  /** The byte lengths of {@code chunkFloats}-element chunks over arrays of {@code lengths} elements. */
  static int[] chunkBytes(List<Integer> lengths, int chunkFloats) {
    return lengths.stream().flatMapToInt(n -> {
      int chunks = (n + chunkFloats - 1) / chunkFloats;
      int[] b = new int[chunks];
      for (int c = 0; c < chunks; c++) {
        b[c] = Math.min(chunkFloats, n - c * chunkFloats) * Float.BYTES;
      }
      return Arrays.stream(b);
    }).toArray();
  }
}
