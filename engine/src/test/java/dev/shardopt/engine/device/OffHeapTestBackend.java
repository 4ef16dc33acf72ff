package dev.shardopt.engine.device;

import dev.shardopt.engine.kernel.ParallelApply;
import dev.shardopt.engine.kernel.StepScalars;
import dev.shardopt.engine.kernel.UpdateKernel;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A stand-in for an accelerator in the engine's tests: its arrays are its own objects, which only
 * it can read, so a ShardGroup on it takes the path of a real device (gradients uploaded into
 * staging arrays, parameters downloaded); the arithmetic is {@link CpuBackend}'s. It refuses arrays
 * it did not allocate or already released, counts what is live, and can fail its n-th allocation.
 */
public final class OffHeapTestBackend implements DeviceBackend {

  private static final class Box implements DeviceArray {
    final DeviceArray inner;

    Box(DeviceArray inner) {
      this.inner = inner;
    }

    @Override
    public int length() {
      return inner.length();
    }
  }

  private final CpuBackend cpu;
  private final Set<Box> live = ConcurrentHashMap.newKeySet();
  private volatile int failAt = -1;
  private int allocations;
  private int uploads;

  private final String kind;
  private final String name;

  public OffHeapTestBackend(ParallelApply parallel) {
    this(parallel, "offheap-test", "test device");
  }

  /** One that calls itself {@code kind} (a fake opencl or cuda device). */
  public OffHeapTestBackend(ParallelApply parallel, String kind, String name) {
    this.cpu = new CpuBackend(parallel);
    this.kind = kind;
    this.name = name;
  }

  /** The allocation with this 0-based number (counted from now) throws DeviceMemoryException. */
  public synchronized void failAllocation(int n) {
    allocations = 0;
    failAt = n;
  }

  public int liveArrays() {
    return live.size();
  }

  public synchronized int uploads() {
    return uploads;
  }

  private DeviceArray in(DeviceArray a) {
    if (!(a instanceof Box b)) {
      throw new IllegalArgumentException("not an array of this device: " + a);
    }
    if (!live.contains(b)) {
      throw new IllegalStateException("array used after release");
    }
    return b.inner;
  }

  @Override
  public String kind() {
    return kind;
  }

  @Override
  public DeviceInfo info() {
    long used = 0;
    for (Box b : live) {
      used += 4L * b.length();
    }
    return new DeviceInfo(kind, name, 1L << 40, (1L << 40) - used, used);
  }

  @Override
  public synchronized DeviceArray allocate(int length) {
    if (allocations++ == failAt) {
      throw new DeviceMemoryException("test device: allocation " + failAt + " refused", 4L * length, 0);
    }
    Box b = new Box(cpu.allocate(length));
    live.add(b);
    return b;
  }

  @Override
  public void release(DeviceArray array) {
    Box b = (Box) array;
    if (live.remove(b)) {
      cpu.release(b.inner);
    }
  }

  @Override
  public void upload(float[] src, int srcFrom, DeviceArray dst, int dstFrom, int n) {
    synchronized (this) {
      uploads++;
    }
    cpu.upload(src, srcFrom, in(dst), dstFrom, n);
  }

  @Override
  public void download(DeviceArray src, int srcFrom, float[] dst, int dstFrom, int n) {
    cpu.download(in(src), srcFrom, dst, dstFrom, n);
  }

  @Override
  public void fill(DeviceArray dst, float value) {
    cpu.fill(in(dst), value);
  }

  @Override
  public void copy(DeviceArray src, DeviceArray dst) {
    cpu.copy(in(src), in(dst));
  }

  @Override
  public void trainerMean(List<DeviceArray> gradients, DeviceArray out) {
    List<DeviceArray> g = new ArrayList<>();
    for (DeviceArray a : gradients) {
      if (a == out) {
        throw new IllegalArgumentException("trainerMean: out is one of the inputs");
      }
      g.add(in(a));
    }
    cpu.trainerMean(g, in(out));
  }

  @Override
  public void addInPlace(DeviceArray sum, DeviceArray x) {
    cpu.addInPlace(in(sum), in(x));
  }

  @Override
  public void windowMean(DeviceArray sum, DeviceArray x, float k, DeviceArray out) {
    if (sum != null && sum == out) {
      throw new IllegalArgumentException("windowMean: out is the sum");
    }
    cpu.windowMean(sum == null ? null : in(sum), in(x), k, in(out));
  }

  @Override
  public GradientReduction reduce(DeviceArray g, float clipValue) {
    return cpu.reduce(in(g), clipValue);
  }

  @Override
  public void apply(UpdateKernel kernel, DeviceArray param, DeviceArray grad, DeviceArray[] state, StepScalars s) {
    DeviceArray[] st = new DeviceArray[state.length];
    for (int j = 0; j < st.length; j++) {
      st[j] = in(state[j]);
    }
    cpu.apply(kernel, in(param), in(grad), st, s);
  }

  @Override
  public void close() {
    for (Box b : List.copyOf(live)) {
      release(b);
    }
  }
}
