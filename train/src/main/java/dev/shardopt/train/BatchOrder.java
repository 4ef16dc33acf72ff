package dev.shardopt.train;

import java.util.HashMap;
import java.util.Map;
import java.util.Random;

/**
 * The global batches of a run: the training rows are read in epochs, each epoch a fresh seeded shuffle, and
 * step {@code s} takes the positions {@code [s·B, (s+1)·B)} of that endless sequence (a batch may span two
 * epochs). Trainer {@code r} of {@code K} takes rows {@code r, r+K, r+2K, …} of the step's batch, so the K
 * slices partition it. A function of (rows, B, seed, step) only: every trainer, every pipeline and every run
 * with the same seed sees the same data in the same order. Thread-safe.
 */
public final class BatchOrder {
  private final int[] rows;
  private final int batch;
  private final long seed;
  private final Map<Long, int[]> epochs = new HashMap<>();

  /**
   * @param rows  the training rows (indices into the data set)
   * @param batch the global batch size B, in [1, rows.length]
   */
  public BatchOrder(int[] rows, int batch, long seed) {
    if (batch < 1 || batch > rows.length) {
      throw new IllegalArgumentException("batch must be in [1, " + rows.length + "], got " + batch);
    }
    this.rows = rows.clone();
    this.batch = batch;
    this.seed = seed;
  }

  public int batchSize() {
    return batch;
  }

  /** The rows of step {@code step}'s global batch, in order. */
  public int[] batch(long step) {
    if (step < 0) {
      throw new IllegalArgumentException("step must be >= 0, got " + step);
    }
    int[] out = new int[batch];
    long pos = step * batch;
    for (int i = 0; i < batch; i++, pos++) {
      out[i] = epoch(pos / rows.length)[(int) (pos % rows.length)];
    }
    return out;
  }

  /** Trainer {@code rank}'s slice of step {@code step}'s batch: rows {@code rank, rank+K, …}. */
  public int[] slice(long step, int rank, int trainers) {
    if (trainers < 1 || rank < 0 || rank >= trainers) {
      throw new IllegalArgumentException("rank must be in [0, " + trainers + "), got " + rank);
    }
    int[] all = batch(step);
    int n = (all.length - rank + trainers - 1) / trainers;
    int[] out = new int[n];
    for (int i = 0; i < n; i++) {
      out[i] = all[rank + i * trainers];
    }
    return out;
  }

  private synchronized int[] epoch(long e) {
    int[] p = epochs.get(e);
    if (p == null) {
      p = rows.clone();
      Random rnd = new Random(seed * 0x9E3779B97F4A7C15L + e);
      for (int i = p.length - 1; i > 0; i--) {
        int j = rnd.nextInt(i + 1);
        int t = p[i];
        p[i] = p[j];
        p[j] = t;
      }
      epochs.put(e, p);
      epochs.remove(e - 2); // trainers are at most a step apart: keep the current and the previous epoch
    }
    return p;
  }
}
