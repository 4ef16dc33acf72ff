package dev.shardopt.engine.device;

import dev.shardopt.engine.kernel.StepScalars;
import dev.shardopt.engine.kernel.UpdateKernel;
import java.util.List;

/**
 * Where a process's shards and their optimizer state live, and the element-wise arithmetic of a
 * step on them: the trainer mean, the accumulation window, the per-block statistics and the rule's
 * kernel. {@code cpu} ({@link CpuBackend}) runs the Java kernels on heap arrays; the {@code opencl}
 * and {@code cuda} backends run the kernels of {@link KernelSource} on an accelerator.
 *
 * <p><b>Bitwise contract.</b> Every backend computes exactly what {@link CpuBackend} computes, bit for
 * bit, for the same inputs: float arithmetic in the Java kernels' operation order with no
 * contraction, correctly rounded division and square root, and the reductions in the one order that
 * {@link dev.shardopt.engine.kernel.ReductionBlocks} defines. A cluster may therefore mix backends.
 *
 * <p>Arrays belong to the backend that allocated them. Calls on one backend may come from several
 * threads (one model's steps are serialized by its caller; different models may run at once): an
 * implementation serializes what its device needs serialized.
 */
public interface DeviceBackend extends AutoCloseable {

  /** {@code "cpu"}, {@code "opencl"} or {@code "cuda"}. */
  String kind();

  /** The device's name and memory, for {@code status} and error messages. */
  DeviceInfo info();

  /**
   * A zero-filled array of {@code length} floats on the device.
   *
   * @throws DeviceMemoryException when the device has not that much memory free
   */
  DeviceArray allocate(int length);

  /** Frees {@code array}; using it afterwards is an error. Releasing twice is a no-op. */
  void release(DeviceArray array);

  /** Copies {@code src[srcFrom, srcFrom + n)} to {@code dst[dstFrom, dstFrom + n)}. */
  void upload(float[] src, int srcFrom, DeviceArray dst, int dstFrom, int n);

  /** Copies {@code src[srcFrom, srcFrom + n)} to {@code dst[dstFrom, dstFrom + n)}. */
  void download(DeviceArray src, int srcFrom, float[] dst, int dstFrom, int n);

  /** Sets every element of {@code dst} to {@code value}. */
  void fill(DeviceArray dst, float value);

  /** {@code dst = src}, element for element (same lengths). */
  void copy(DeviceArray src, DeviceArray dst);

  /**
   * The trainer mean: {@code out[i] = (((g0[i] + g1[i]) + g2[i]) + …) / K} in float, summed in list
   * order, K = {@code gradients.size()} >= 1 (K = 1 divides by 1: a copy). {@code out} may not be one
   * of the inputs.
   */
  void trainerMean(List<DeviceArray> gradients, DeviceArray out);

  /** {@code sum[i] = sum[i] + x[i]} in float (the accumulation window). */
  void addInPlace(DeviceArray sum, DeviceArray x);

  /**
   * The window mean: {@code out[i] = (sum[i] + x[i]) / k}, or {@code x[i] / k} when {@code sum} is
   * null, in float. {@code out} may be {@code x} (the trainer mean's scratch array, updated in place,
   * element by element); it is never {@code sum}.
   */
  void windowMean(DeviceArray sum, DeviceArray x, float k, DeviceArray out);

  /**
   * The two reductions of a step's gradient over its first {@code n} elements, in the order of
   * {@link dev.shardopt.engine.kernel.ReductionBlocks}: the per-block sums of squares after
   * {@code clamp(g, -clipValue, clipValue)} ({@link Float#POSITIVE_INFINITY} for none), and the index
   * of the first NaN or infinite element. When that index is not -1 the sums are unspecified.
   */
  GradientReduction reduce(DeviceArray g, float clipValue);

  /**
   * A step's gradient and its reductions: {@code x = trainerMean(gradients)} (the one gradient
   * itself when there is one), then, when {@code windowK > 1}, {@code windowMean(windowSum, x,
   * windowK, out)}; the step gradient is {@code out}, or {@code gradients.get(0)} when there is one
   * gradient and no window. Returns {@code reduce(step gradient, clipValue)}. Bitwise what those
   * calls give one after the other, which is this default; a backend may fuse them (the cpu backend
   * does, one pass over memory).
   *
   * @param windowSum the window's sum, or null when this shard has none (see windowMean)
   * @param windowK the accumulation window, 1 for none
   */
  default GradientReduction stepGradient(
      List<DeviceArray> gradients, DeviceArray windowSum, int windowK, DeviceArray out, float clipValue) {
    DeviceArray x = gradients.get(0);
    if (gradients.size() > 1) {
      trainerMean(gradients, out);
      x = out;
    }
    if (windowK > 1) {
      windowMean(windowSum, x, windowK, out);
      x = out;
    }
    return reduce(x, clipValue);
  }

  /**
   * One update of {@code kernel} over every element: {@code kernel.apply(param, grad, state, 0, n, s)}
   * with the arrays on the device. {@code state[j]} is the slot {@code kernel.stateSlots().get(j)}.
   */
  void apply(UpdateKernel kernel, DeviceArray param, DeviceArray grad, DeviceArray[] state, StepScalars s);

  /** Frees every array still allocated and the device's context. */
  @Override
  void close();
}
