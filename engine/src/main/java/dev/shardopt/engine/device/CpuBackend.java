package dev.shardopt.engine.device;

import dev.shardopt.engine.kernel.ParallelApply;
import dev.shardopt.engine.kernel.ReductionBlocks;
import dev.shardopt.engine.kernel.StepScalars;
import dev.shardopt.engine.kernel.UpdateKernel;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The default backend: shards on the Java heap, the Java kernels run by {@link ParallelApply}. It
 * defines the arithmetic that every other backend reproduces bit for bit.
 */
public final class CpuBackend implements DeviceBackend {

  /** A heap array: one this backend allocated, or a view of the caller's array ({@link #view}). */
  static final class HeapArray implements DeviceArray {
    private float[] values;
    private final boolean owned;

    HeapArray(float[] values, boolean owned) {
      this.values = values;
      this.owned = owned;
    }

    @Override
    public int length() {
      return values().length;
    }

    float[] values() {
      float[] v = values;
      if (v == null) {
        throw new IllegalStateException("array used after release");
      }
      return v;
    }
  }

  private final ParallelApply parallel;
  private final AtomicLong usedBytes = new AtomicLong();

  public CpuBackend(ParallelApply parallel) {
    this.parallel = Objects.requireNonNull(parallel, "parallel");
  }

  /**
   * {@code values} itself as an array of this backend (no copy): what lets the cpu path hand a
   * trainer's heap gradient to the kernels without staging it. Not counted as allocated; releasing it
   * is a no-op. The caller keeps it unchanged while a call on the backend uses it.
   */
  public static DeviceArray view(float[] values) {
    return new HeapArray(Objects.requireNonNull(values, "values"), false);
  }

  /** The heap array behind {@code a}, live: for callers that can use it without a copy. */
  public static float[] heap(DeviceArray a) {
    if (!(a instanceof HeapArray h)) {
      throw new IllegalArgumentException("not an array of the cpu backend: " + a);
    }
    return h.values();
  }

  public ParallelApply parallel() {
    return parallel;
  }

  @Override
  public String kind() {
    return "cpu";
  }

  @Override
  public DeviceInfo info() {
    Runtime rt = Runtime.getRuntime();
    long free = rt.maxMemory() - (rt.totalMemory() - rt.freeMemory());
    int threads = parallel.parallelism();
    return new DeviceInfo("cpu", "Java heap, " + threads + (threads == 1 ? " thread" : " threads"), rt.maxMemory(), free,
        usedBytes.get());
  }

  @Override
  public DeviceArray allocate(int length) {
    if (length < 0) {
      throw new IllegalArgumentException("negative length " + length);
    }
    HeapArray a;
    try {
      a = new HeapArray(new float[length], true);
    } catch (OutOfMemoryError e) {
      throw new DeviceMemoryException("the Java heap has no room for " + (4L * length) + " bytes (" + length
          + " floats); raise -Xmx or use more workers", 4L * length, info().freeBytes());
    }
    usedBytes.addAndGet(4L * length);
    return a;
  }

  @Override
  public void release(DeviceArray array) {
    HeapArray h = (HeapArray) array;
    if (h.owned && h.values != null) {
      usedBytes.addAndGet(-4L * h.values.length);
      h.values = null;
    }
  }

  @Override
  public void upload(float[] src, int srcFrom, DeviceArray dst, int dstFrom, int n) {
    System.arraycopy(src, srcFrom, heap(dst), dstFrom, n);
  }

  @Override
  public void download(DeviceArray src, int srcFrom, float[] dst, int dstFrom, int n) {
    System.arraycopy(heap(src), srcFrom, dst, dstFrom, n);
  }

  @Override
  public void fill(DeviceArray dst, float value) {
    Arrays.fill(heap(dst), value);
  }

  @Override
  public void copy(DeviceArray src, DeviceArray dst) {
    float[] s = heap(src);
    float[] d = heap(dst);
    if (s.length != d.length) {
      throw new IllegalArgumentException("copy of " + s.length + " floats into " + d.length);
    }
    System.arraycopy(s, 0, d, 0, s.length);
  }

  @Override
  public void trainerMean(List<DeviceArray> gradients, DeviceArray out) {
    float[] o = heap(out);
    System.arraycopy(heap(gradients.get(0)), 0, o, 0, o.length);
    for (int r = 1; r < gradients.size(); r++) {
      float[] g = heap(gradients.get(r));
      for (int j = 0; j < o.length; j++) {
        o[j] += g[j];
      }
    }
    float kf = gradients.size();
    for (int j = 0; j < o.length; j++) {
      o[j] /= kf;
    }
  }

  @Override
  public void addInPlace(DeviceArray sum, DeviceArray x) {
    float[] s = heap(sum);
    float[] v = heap(x);
    for (int j = 0; j < s.length; j++) {
      s[j] += v[j];
    }
  }

  @Override
  public void windowMean(DeviceArray sum, DeviceArray x, float k, DeviceArray out) {
    float[] v = heap(x);
    float[] o = heap(out);
    if (sum == null) {
      for (int j = 0; j < o.length; j++) {
        o[j] = v[j] / k;
      }
      return;
    }
    float[] s = heap(sum);
    for (int j = 0; j < o.length; j++) {
      o[j] = (s[j] + v[j]) / k;
    }
  }

  @Override
  public GradientReduction reduce(DeviceArray g, float clipValue) {
    float[] v = heap(g);
    // One pass: the sums and the non-finite test together (ReductionBlocks.reduceBlocks).
    double[] sums = new double[ReductionBlocks.blockCount(v.length)];
    int bad = parallel.reduce(v, clipValue, sums);
    return new GradientReduction(bad >= 0 ? new double[0] : sums, bad);
  }

  /**
   * The step gradient and its reductions in one pass over memory: block by block, the trainer
   * mean, the window mean and then the block's reductions while it is in the cache, on the
   * parallel threads. Each element gets exactly trainerMean's and windowMean's operations in their
   * order ({@code ((g0 + g1) + …) / K}, then {@code (sum + x) / k}), so the result is theirs bitwise.
   */
  @Override
  public GradientReduction stepGradient(
      List<DeviceArray> gradients, DeviceArray windowSum, int windowK, DeviceArray out, float clipValue) {
    float[][] g = new float[gradients.size()][];
    for (int r = 0; r < g.length; r++) {
      g[r] = heap(gradients.get(r));
    }
    boolean mean = g.length > 1;
    boolean window = windowK > 1;
    float[] o = mean || window ? heap(out) : null;
    float[] sum = window && windowSum != null ? heap(windowSum) : null;
    float kf = g.length;
    float wk = windowK;
    float[] step = mean || window ? o : g[0];
    for (float[] x : g) {
      if (x.length != step.length) {
        throw new IllegalArgumentException("gradients of " + x.length + " and " + step.length + " elements");
      }
    }
    ParallelApply.BlockFill fill = !mean && !window ? null : (from, to) -> {
      float[] x = g[0];
      if (mean) {
        // ((g0 + g1) + … + g[K-1]) / K per element, as trainerMean, with the copy folded into the
        // first addition and the division into the last: fewer passes over the block, same bits.
        float[] g0 = g[0];
        float[] g1 = g[1];
        int last = g.length - 1;
        if (last == 1) {
          for (int j = from; j < to; j++) {
            o[j] = (g0[j] + g1[j]) / kf;
          }
        } else {
          for (int j = from; j < to; j++) {
            o[j] = g0[j] + g1[j];
          }
          for (int r = 2; r < last; r++) {
            float[] gr = g[r];
            for (int j = from; j < to; j++) {
              o[j] += gr[j];
            }
          }
          float[] gl = g[last];
          for (int j = from; j < to; j++) {
            o[j] = (o[j] + gl[j]) / kf;
          }
        }
        x = o;
      }
      if (window) {
        if (sum == null) {
          for (int j = from; j < to; j++) {
            o[j] = x[j] / wk;
          }
        } else {
          for (int j = from; j < to; j++) {
            o[j] = (sum[j] + x[j]) / wk;
          }
        }
      }
    };
    double[] sums = new double[ReductionBlocks.blockCount(step.length)];
    int bad = parallel.fillAndReduce(step, fill, clipValue, sums);
    return new GradientReduction(bad >= 0 ? new double[0] : sums, bad);
  }

  @Override
  public void apply(UpdateKernel kernel, DeviceArray param, DeviceArray grad, DeviceArray[] state, StepScalars s) {
    float[][] st = new float[state.length][];
    for (int j = 0; j < st.length; j++) {
      st[j] = heap(state[j]);
    }
    parallel.apply(kernel, heap(param), heap(grad), st, s);
  }

  /** The executor belongs to the caller; nothing to free but the arrays, which the GC takes. */
  @Override
  public void close() {}
}
