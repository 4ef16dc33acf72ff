package dev.shardopt.engine.kernel;

import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Runs kernels and reductions over a whole array {@code [0, n)}, split into chunks whose boundaries
 * are multiples of {@link ReductionBlocks#BLOCK}, on up to {@code parallelism} threads: the caller's
 * own thread plus {@code parallelism - 1} tasks submitted to the caller-supplied executor. Chunks
 * are claimed dynamically, so a slow thread gets fewer of them.
 *
 * <p>Results are bitwise identical for every parallelism and chunk size: a kernel is element-wise,
 * and the reductions are computed per block and combined in block order ({@link ReductionBlocks}).
 *
 * <p>A call returns only once every chunk is finished, and never waits for a submitted task that has
 * not started: a task that starts late finds no chunk left and returns at once. So it cannot
 * deadlock on a busy or undersized executor, including one whose thread is the caller; a rejected
 * submission just leaves more chunks to the other threads. If a chunk throws, the chunks not yet
 * started are skipped and the first exception is rethrown on the calling thread once the running
 * ones are finished (the arrays are then partially updated).
 *
 * <p>The executor is not owned: this class never shuts it down. Instances are immutable and may be
 * used by several threads at once.
 */
public final class ParallelApply {

  /** Chunks per thread when the chunk size is automatic, so dynamic claiming can even out noise. */
  static final int CHUNKS_PER_THREAD = 4;

  private final ExecutorService executor;
  private final int parallelism;
  private final int chunkBlocks;
  private final LaneReducer reducer;

  /** Automatic chunk size: about {@value #CHUNKS_PER_THREAD} chunks per thread. */
  public ParallelApply(ExecutorService executor, int parallelism) {
    this(executor, parallelism, 0);
  }

  /**
   * @param executor runs the {@code parallelism - 1} helper tasks; unused when parallelism is 1
   * @param parallelism threads working on one call, the caller's included, >= 1
   * @param chunkBlocks blocks per chunk, >= 1, or 0 for automatic
   */
  public ParallelApply(ExecutorService executor, int parallelism, int chunkBlocks) {
    this(executor, parallelism, chunkBlocks, ReductionBlocks.defaultReducer());
  }

  /**
   * @param reducer computes the reductions ({@link LaneReducers#forThisJvm()} in the other
   *     constructors); every implementation gives the same bits
   */
  public ParallelApply(ExecutorService executor, int parallelism, int chunkBlocks, LaneReducer reducer) {
    this.reducer = Objects.requireNonNull(reducer, "reducer");
    this.executor = Objects.requireNonNull(executor, "executor");
    if (parallelism < 1) {
      throw new IllegalArgumentException("parallelism must be >= 1, got " + parallelism);
    }
    if (chunkBlocks < 0) {
      throw new IllegalArgumentException(
          "chunkBlocks must be >= 0 (0 = automatic), got " + chunkBlocks);
    }
    this.parallelism = parallelism;
    this.chunkBlocks = chunkBlocks;
  }

  public int parallelism() {
    return parallelism;
  }

  /** Blocks per chunk, 0 for automatic. */
  public int chunkBlocks() {
    return chunkBlocks;
  }

  /** Applies one update of {@code kernel} to all {@code param.length} elements. */
  public void apply(
      UpdateKernel kernel, float[] param, float[] grad, float[][] state, StepScalars s) {
    Objects.requireNonNull(kernel, "kernel");
    // Check everything once up front, so a mismatch fails before any chunk has run.
    Kernels.check(kernel, param, grad, state, 0, param.length, s, true);
    forEachChunk(param.length, (from, to) -> kernel.apply(param, grad, state, from, to, s));
  }

  /** The per-block sums of squares of {@code g} ({@link ReductionBlocks#blockPartials}). */
  public double[] blockPartials(float[] g, float clipValue) {
    int n = g.length;
    double[] out = new double[ReductionBlocks.blockCount(n)];
    forEachChunk(n, (from, to) ->
        ReductionBlocks.blockPartials(reducer, g, clipValue, out,
            from / ReductionBlocks.BLOCK, ReductionBlocks.blockCount(to)));
    return out;
  }

  /** {@code combine(blockPartials(g, clipValue))}: the squared clip norm. */
  public double sumOfSquares(float[] g, float clipValue) {
    return ReductionBlocks.combine(blockPartials(g, clipValue));
  }

  /** The index of the first NaN or infinite element of {@code g}, or -1. */
  public int firstNonFinite(float[] g) {
    int n = g.length;
    int chunk = chunkElements(n);
    int chunks = chunkCount(n, chunk);
    int[] first = new int[chunks];
    forEachChunk(n, (from, to) ->
        first[from / chunk] = ReductionBlocks.firstNonFinite(reducer, g, from, to));
    for (int f : first) {
      if (f >= 0) {
        return f;
      }
    }
    return -1;
  }

  /**
   * Both reductions in one pass ({@link ReductionBlocks#reduceBlocks}): writes the per-block sums of
   * squares of {@code g} into {@code out} (length {@code blockCount(g.length)}) and returns the index
   * of the first NaN or infinite element, or -1; {@code out} is unspecified when it is not -1.
   */
  public int reduce(float[] g, float clipValue, double[] out) {
    return fillAndReduce(g, null, clipValue, out);
  }

  /** Writes elements {@code [from, to)} of an array, one reduction block at a time. */
  @FunctionalInterface
  public interface BlockFill {
    void fill(int from, int to);
  }

  /**
   * {@link #reduce} of an array that {@code fill} writes first, block by block: for each block,
   * {@code fill.fill(start, end)} and then that block's reductions, while the block is still in the
   * cache; so computing {@code g} and reducing it is one pass over memory. {@code fill} may be
   * null (g is ready). Every element is filled, also after a non-finite one.
   */
  public int fillAndReduce(float[] g, BlockFill fill, float clipValue, double[] out) {
    int n = g.length;
    if (out.length != ReductionBlocks.blockCount(n)) {
      throw new IllegalArgumentException(
          "out must have " + ReductionBlocks.blockCount(n) + " partials for " + n + " elements, got " + out.length);
    }
    if (!(clipValue > 0f)) {
      throw new IllegalArgumentException("clipValue must be > 0 (+inf for none), got " + clipValue);
    }
    int chunk = chunkElements(n);
    int[] first = new int[chunkCount(n, chunk)];
    forEachChunk(n, (from, to) -> {
      int bad = -1;
      for (int b = from / ReductionBlocks.BLOCK; b < ReductionBlocks.blockCount(to); b++) {
        if (fill != null) {
          fill.fill(ReductionBlocks.blockStart(b), ReductionBlocks.blockEnd(b, n));
        }
        if (bad < 0) {
          bad = ReductionBlocks.reduceBlocks(reducer, g, clipValue, out, b, b + 1);
        }
      }
      first[from / chunk] = bad;
    });
    for (int f : first) {
      if (f >= 0) {
        return f;
      }
    }
    return -1;
  }

  /** The implementation of the reductions. */
  public LaneReducer reducer() {
    return reducer;
  }

  /** Elements per chunk for an array of {@code n}: a positive multiple of BLOCK. */
  int chunkElements(int n) {
    long blocks = chunkBlocks;
    if (blocks == 0) {
      long total = ReductionBlocks.blockCount(n);
      long chunks = (long) parallelism * CHUNKS_PER_THREAD;
      blocks = Math.max(1, (total + chunks - 1) / chunks);
    }
    // Cap at the largest int multiple of BLOCK; a chunk longer than the array is one chunk.
    long max = (long) (Integer.MAX_VALUE / ReductionBlocks.BLOCK) * ReductionBlocks.BLOCK;
    return (int) Math.min(blocks * ReductionBlocks.BLOCK, max);
  }

  private static int chunkCount(int n, int chunk) {
    return (int) (((long) n + chunk - 1) / chunk);
  }

  @FunctionalInterface
  private interface RangeTask {
    void run(int from, int to);
  }

  private void forEachChunk(int n, RangeTask body) {
    final int chunk = chunkElements(n);
    final int chunks = chunkCount(n, chunk);
    final int workers = Math.min(parallelism, chunks);
    if (workers <= 1) {
      for (int c = 0; c < chunks; c++) {
        body.run(c * chunk, (int) Math.min((long) c * chunk + chunk, n));
      }
      return;
    }
    final AtomicInteger next = new AtomicInteger();
    final CountDownLatch done = new CountDownLatch(chunks);
    final AtomicReference<Throwable> failure = new AtomicReference<>();
    Runnable worker = () -> {
      int c;
      while ((c = next.getAndIncrement()) < chunks) {
        try {
          if (failure.get() == null) {
            body.run(c * chunk, (int) Math.min((long) c * chunk + chunk, n));
          }
        } catch (Throwable t) {
          failure.compareAndSet(null, t);
        } finally {
          done.countDown();
        }
      }
    };
    for (int w = 1; w < workers; w++) {
      try {
        executor.execute(worker);
      } catch (RejectedExecutionException e) {
        break; // the threads already running, the caller's at least, take the remaining chunks
      }
    }
    worker.run();
    boolean interrupted = false;
    while (true) {
      try {
        done.await();
        break;
      } catch (InterruptedException e) {
        // The other threads are still writing the arrays: never return before they finish.
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
    Throwable t = failure.get();
    if (t instanceof RuntimeException re) {
      throw re;
    }
    if (t instanceof Error err) {
      throw err;
    }
    if (t != null) {
      throw new IllegalStateException(t);
    }
  }
}
