package dev.shardopt.engine.device;

import dev.shardopt.engine.kernel.StepScalars;
import dev.shardopt.engine.kernel.UpdateKernel;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Another backend with a cap on the bytes its arrays may hold: a worker sharing a device (or a
 * machine's heap) with others takes no more than its part ({@code --device-memory-limit}). Every
 * call but {@link #allocate}, {@link #release} and {@link #info} goes to the inner backend
 * unchanged, with the inner backend's own arrays, so the arithmetic is the inner backend's.
 */
public final class MemoryLimitedBackend implements DeviceBackend {
  private final DeviceBackend inner;
  private final long limitBytes;
  private final Map<DeviceArray, Long> held = new IdentityHashMap<>(); // guarded by this
  private long usedBytes; // guarded by this

  /** @param limitBytes the most bytes this backend's arrays may hold at once, > 0 */
  public MemoryLimitedBackend(DeviceBackend inner, long limitBytes) {
    this.inner = Objects.requireNonNull(inner, "inner");
    if (limitBytes <= 0) {
      throw new IllegalArgumentException("the device memory limit must be > 0 bytes, got " + limitBytes);
    }
    this.limitBytes = limitBytes;
  }

  /** The backend that does the work (its arrays are this backend's arrays). */
  public DeviceBackend inner() {
    return inner;
  }

  public long limitBytes() {
    return limitBytes;
  }

  @Override
  public String kind() {
    return inner.kind();
  }

  /** The inner device's, with total and free memory no more than the limit leaves. */
  @Override
  public DeviceInfo info() {
    DeviceInfo d = inner.info();
    long used;
    synchronized (this) {
      used = usedBytes;
    }
    long total = d.totalBytes() < 0 ? limitBytes : Math.min(limitBytes, d.totalBytes());
    long free = d.freeBytes() < 0 ? limitBytes - used : Math.min(limitBytes - used, d.freeBytes());
    return new DeviceInfo(d.kind(), d.name() + ", limited to " + limitBytes + " bytes", total, free, used);
  }

  @Override
  public DeviceArray allocate(int length) {
    if (length < 0) {
      throw new IllegalArgumentException("negative length " + length);
    }
    long bytes = 4L * length;
    synchronized (this) {
      if (bytes > limitBytes - usedBytes) {
        throw new DeviceMemoryException("the device memory limit of " + limitBytes + " bytes has " + (limitBytes - usedBytes)
            + " bytes free, " + bytes + " asked", bytes, limitBytes - usedBytes);
      }
      usedBytes += bytes; // reserved before the inner allocation, so two threads cannot both pass the check
    }
    DeviceArray a;
    try {
      a = inner.allocate(length);
    } catch (RuntimeException | Error e) {
      synchronized (this) {
        usedBytes -= bytes;
      }
      throw e;
    }
    synchronized (this) {
      held.put(a, bytes);
    }
    return a;
  }

  @Override
  public void release(DeviceArray array) {
    synchronized (this) {
      Long bytes = held.remove(array);
      if (bytes != null) {
        usedBytes -= bytes;
      }
    }
    inner.release(array);
  }

  @Override
  public void upload(float[] src, int srcFrom, DeviceArray dst, int dstFrom, int n) {
    inner.upload(src, srcFrom, dst, dstFrom, n);
  }

  @Override
  public void download(DeviceArray src, int srcFrom, float[] dst, int dstFrom, int n) {
    inner.download(src, srcFrom, dst, dstFrom, n);
  }

  @Override
  public void fill(DeviceArray dst, float value) {
    inner.fill(dst, value);
  }

  @Override
  public void copy(DeviceArray src, DeviceArray dst) {
    inner.copy(src, dst);
  }

  @Override
  public void trainerMean(List<DeviceArray> gradients, DeviceArray out) {
    inner.trainerMean(gradients, out);
  }

  @Override
  public void addInPlace(DeviceArray sum, DeviceArray x) {
    inner.addInPlace(sum, x);
  }

  @Override
  public void windowMean(DeviceArray sum, DeviceArray x, float k, DeviceArray out) {
    inner.windowMean(sum, x, k, out);
  }

  @Override
  public GradientReduction reduce(DeviceArray g, float clipValue) {
    return inner.reduce(g, clipValue);
  }

  @Override
  public GradientReduction stepGradient(
      List<DeviceArray> gradients, DeviceArray windowSum, int windowK, DeviceArray out, float clipValue) {
    return inner.stepGradient(gradients, windowSum, windowK, out, clipValue);
  }

  @Override
  public void apply(UpdateKernel kernel, DeviceArray param, DeviceArray grad, DeviceArray[] state, StepScalars s) {
    inner.apply(kernel, param, grad, state, s);
  }

  @Override
  public void close() {
    synchronized (this) {
      held.clear();
      usedBytes = 0;
    }
    inner.close();
  }
}
