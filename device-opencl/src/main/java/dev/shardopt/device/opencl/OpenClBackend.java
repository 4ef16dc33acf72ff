package dev.shardopt.device.opencl;

import static org.bytedeco.opencl.global.OpenCL.CL_DEVICE_DOUBLE_FP_CONFIG;
import static org.bytedeco.opencl.global.OpenCL.CL_DEVICE_GLOBAL_MEM_SIZE;
import static org.bytedeco.opencl.global.OpenCL.CL_DEVICE_MAX_MEM_ALLOC_SIZE;
import static org.bytedeco.opencl.global.OpenCL.CL_DEVICE_MAX_WORK_GROUP_SIZE;
import static org.bytedeco.opencl.global.OpenCL.CL_DEVICE_SINGLE_FP_CONFIG;
import static org.bytedeco.opencl.global.OpenCL.CL_DEVICE_TYPE;
import static org.bytedeco.opencl.global.OpenCL.CL_DEVICE_TYPE_CPU;
import static org.bytedeco.opencl.global.OpenCL.CL_FP_DENORM;
import static org.bytedeco.opencl.global.OpenCL.CL_FP_ROUND_TO_NEAREST;
import static org.bytedeco.opencl.global.OpenCL.CL_MEM_READ_WRITE;
import static org.bytedeco.opencl.global.OpenCL.clCreateBuffer;
import static org.bytedeco.opencl.global.OpenCL.clCreateCommandQueue;
import static org.bytedeco.opencl.global.OpenCL.clCreateContext;
import static org.bytedeco.opencl.global.OpenCL.clReleaseContext;
import static org.bytedeco.opencl.global.OpenCL.clReleaseMemObject;

import dev.shardopt.engine.device.DeviceArray;
import dev.shardopt.engine.device.DeviceBackend;
import dev.shardopt.engine.device.DeviceInfo;
import dev.shardopt.engine.device.DeviceMemoryException;
import dev.shardopt.engine.device.DeviceUnavailableException;
import dev.shardopt.engine.device.GradientReduction;
import dev.shardopt.engine.device.KernelLaunch;
import dev.shardopt.engine.device.KernelLaunches;
import dev.shardopt.engine.device.KernelSource;
import dev.shardopt.engine.kernel.ReductionBlocks;
import dev.shardopt.engine.kernel.StepScalars;
import dev.shardopt.engine.kernel.UpdateKernel;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.stream.Collectors;
import org.bytedeco.javacpp.SizeTPointer;
import org.bytedeco.opencl._cl_command_queue;
import org.bytedeco.opencl._cl_context;
import org.bytedeco.opencl._cl_kernel;
import org.bytedeco.opencl._cl_mem;

/**
 * The {@code opencl} backend: shards in OpenCL buffers on one device, updated by the kernels of the
 * engine's one kernel source ({@link KernelSource}), bitwise equal to {@link
 * dev.shardopt.engine.device.CpuBackend}. It needs a device with double precision and float
 * subnormals (the kernels divide and take roots in double, and Java keeps subnormals); {@link #open}
 * says so in one line where a device lacks them.
 *
 * <p>Memory: arrays count against the smaller of the device's global memory and the limit given at
 * open; an array that does not fit, or is larger than the device's largest allocation, is refused
 * with a {@link DeviceMemoryException} naming the sizes, before anything is allocated.
 *
 * <p>All calls are serialized on one in-order queue (a kernel's arguments are per-kernel state).
 * Launches return once queued; a download, a reduction's result and {@link #finish} wait.
 */
public final class OpenClBackend implements DeviceBackend {

  /** Work-items per work-group of the element-wise kernels on a GPU (capped by the device's maximum). */
  static final int GPU_GROUP_SIZE = 256;

  /** The most work-items per work-group of the element-wise kernels on a CPU device. */
  static final int CPU_GROUP_SIZE = 4096;

  private final ClDevice device;
  private final String deviceName;
  private final _cl_context context;
  private final ClQueue queue;
  private final ClProgram program;
  private final long budgetBytes;
  private final long maxAllocBytes;
  private final int groupSize;
  private final Set<ClBuffer> live = Collections.newSetFromMap(new IdentityHashMap<>());
  private long usedBytes;
  private _cl_mem partials;
  private _cl_mem firstBad;
  private int reduceCapacity;
  private boolean closed;

  private OpenClBackend(ClDevice device, _cl_context context, ClQueue queue, ClProgram program,
      long budgetBytes) {
    this.device = device;
    this.deviceName = device.name();
    this.context = context;
    this.queue = queue;
    this.program = program;
    this.budgetBytes = budgetBytes;
    this.maxAllocBytes = device.ulong(CL_DEVICE_MAX_MEM_ALLOC_SIZE);
    this.groupSize = elementGroupSize(device);
  }

  /**
   * 256 on a GPU (a few warps a group, plenty of groups); as large as allowed, up to 4096, on a CPU
   * device, where a work-group is one call of a loop that PoCL vectorizes: 16M-element Adam took
   * 16-18 ms in groups of 4096 against 18-32 ms in groups of 256 (PoCL 3.1, 2 vCPUs, best of 6).
   */
  private static int elementGroupSize(ClDevice device) {
    long max = device.sizeT(CL_DEVICE_MAX_WORK_GROUP_SIZE);
    boolean cpu = (device.ulong(CL_DEVICE_TYPE) & CL_DEVICE_TYPE_CPU) != 0;
    return (int) Math.min(cpu ? CPU_GROUP_SIZE : GPU_GROUP_SIZE, max);
  }

  /** Opens device {@code index} with all of its global memory for arrays. */
  public static OpenClBackend open(int index) {
    return open(index, Long.MAX_VALUE);
  }

  /**
   * Opens device {@code index} (of every platform's devices, in order) and builds the kernels.
   *
   * @param memoryLimitBytes the most bytes this backend's arrays may take, > 0 (the device's global
   *     memory caps it)
   * @throws DeviceUnavailableException in one line: no OpenCL library or platform, no device at
   *     {@code index}, a device without fp64 or subnormals, or kernels that do not compile
   */
  public static OpenClBackend open(int index, long memoryLimitBytes) {
    return open(index, memoryLimitBytes, (context, device) -> ClProgram.build(context, device));
  }

  /** Builds the program of an opened device (a test may build another text). */
  interface ProgramBuilder {
    ClProgram build(_cl_context context, ClDevice device);
  }

  static OpenClBackend open(int index, long memoryLimitBytes, ProgramBuilder builder) {
    if (memoryLimitBytes <= 0) {
      throw new IllegalArgumentException("memoryLimitBytes must be > 0, got " + memoryLimitBytes);
    }
    List<ClDevice> devices = ClPlatforms.devices();
    if (index < 0 || index >= devices.size()) {
      throw new DeviceUnavailableException("opencl: no device at index " + index + "; the devices here are "
          + devices.stream().map(ClDevice::describe).collect(Collectors.joining(", ")));
    }
    ClDevice device = devices.get(index);
    requireBitwiseArithmetic(device);
    int[] err = new int[1];
    _cl_context context = clCreateContext((SizeTPointer) null, 1, device.id(), null, null, err);
    if (err[0] != 0) {
      throw new DeviceUnavailableException(
          "opencl: cannot create a context on device " + device.describe() + ": " + ClStatus.name(err[0]));
    }
    ClQueue queue = null;
    try {
      _cl_command_queue q = clCreateCommandQueue(context, device.id(), 0, err);
      if (err[0] != 0) {
        throw new DeviceUnavailableException("opencl: cannot create a command queue on device "
            + device.describe() + ": " + ClStatus.name(err[0]));
      }
      queue = new ClQueue(q);
      ClProgram program = builder.build(context, device);
      long budget = Math.min(memoryLimitBytes, device.ulong(CL_DEVICE_GLOBAL_MEM_SIZE));
      return new OpenClBackend(device, context, queue, program, budget);
    } catch (RuntimeException e) {
      if (queue != null) {
        queue.close();
      }
      clReleaseContext(context);
      throw e;
    }
  }

  /** The kernels' bitwise contract needs fp64, and float rounding to nearest with subnormals kept. */
  private static void requireBitwiseArithmetic(ClDevice device) {
    if (device.ulong(CL_DEVICE_DOUBLE_FP_CONFIG) == 0) {
      throw new DeviceUnavailableException("opencl: device " + device.describe() + " has no double "
          + "precision (cl_khr_fp64), which the kernels need to divide, take roots and sum exactly as Java");
    }
    long single = device.ulong(CL_DEVICE_SINGLE_FP_CONFIG);
    if ((single & CL_FP_DENORM) == 0 || (single & CL_FP_ROUND_TO_NEAREST) == 0) {
      throw new DeviceUnavailableException("opencl: device " + device.describe() + " flushes float "
          + "subnormals to zero or does not round to nearest, so it cannot compute bit for bit as Java");
    }
  }

  @Override
  public String kind() {
    return "opencl";
  }

  @Override
  public synchronized DeviceInfo info() {
    return new DeviceInfo("opencl", deviceName, budgetBytes, budgetBytes - usedBytes, usedBytes);
  }

  /** The largest single array the device allocates, in bytes. */
  public long maxAllocBytes() {
    return maxAllocBytes;
  }

  /** The device's place in the machine's device list and its name, e.g. "[0] pthread-… (PoCL)". */
  public String describe() {
    return device.describe();
  }

  @Override
  public synchronized DeviceArray allocate(int length) {
    open();
    if (length < 0) {
      throw new IllegalArgumentException("length must be >= 0, got " + length);
    }
    long bytes = 4L * length;
    if (bytes > maxAllocBytes) {
      throw new DeviceMemoryException("opencl device " + deviceName + ": one array of " + bytes + " bytes ("
          + length + " floats) is larger than the device's largest allocation, " + maxAllocBytes
          + " bytes", bytes, budgetBytes - usedBytes);
    }
    if (bytes > budgetBytes - usedBytes) {
      throw new DeviceMemoryException("opencl device " + deviceName + " has no room for " + bytes
          + " bytes (" + length + " floats): " + usedBytes + " of " + budgetBytes + " bytes in use, "
          + (budgetBytes - usedBytes) + " free", bytes, budgetBytes - usedBytes);
    }
    if (length == 0) {
      ClBuffer empty = new ClBuffer(this, 0, null);
      live.add(empty);
      return empty;
    }
    int[] err = new int[1];
    _cl_mem mem = clCreateBuffer(context, CL_MEM_READ_WRITE, bytes, null, err);
    if (err[0] != 0) {
      throw allocationFailed(bytes, err[0]);
    }
    ClBuffer b = new ClBuffer(this, length, mem);
    // Drivers may allocate at first use: zero-fill now and wait, so a shortage shows here.
    int status;
    try {
      fillKernel(mem, length, 0f);
      status = queue.finish();
    } catch (IllegalStateException e) {
      status = -4;
    }
    if (status != 0) {
      b.release();
      clReleaseMemObject(mem);
      throw allocationFailed(bytes, status);
    }
    live.add(b);
    usedBytes += bytes;
    return b;
  }

  private DeviceMemoryException allocationFailed(long bytes, int status) {
    return new DeviceMemoryException("opencl device " + deviceName + " could not allocate " + bytes
        + " bytes (" + ClStatus.name(status) + "); " + usedBytes + " of " + budgetBytes + " bytes in use",
        bytes, budgetBytes - usedBytes);
  }

  @Override
  public synchronized void release(DeviceArray array) {
    ClBuffer b = mine(array);
    if (b.released()) {
      return;
    }
    _cl_mem mem = b.release();
    live.remove(b);
    if (mem != null) {
      clReleaseMemObject(mem);
      usedBytes -= b.bytes();
    }
  }

  @Override
  public synchronized void upload(float[] src, int srcFrom, DeviceArray dst, int dstFrom, int n) {
    ClBuffer d = live(dst);
    Objects.checkFromIndexSize(srcFrom, n, src.length);
    Objects.checkFromIndexSize(dstFrom, n, d.length());
    if (n > 0) {
      queue.write(src, srcFrom, d.mem(), dstFrom, n);
    }
  }

  @Override
  public synchronized void download(DeviceArray src, int srcFrom, float[] dst, int dstFrom, int n) {
    ClBuffer s = live(src);
    Objects.checkFromIndexSize(srcFrom, n, s.length());
    Objects.checkFromIndexSize(dstFrom, n, dst.length);
    if (n > 0) {
      queue.read(s.mem(), srcFrom, dst, dstFrom, n);
    }
  }

  @Override
  public synchronized void fill(DeviceArray dst, float value) {
    ClBuffer d = live(dst);
    if (d.length() > 0) {
      fillKernel(d.mem(), d.length(), value);
    }
  }

  private void fillKernel(_cl_mem mem, int n, float value) {
    String name = KernelSource.FILL;
    _cl_kernel k = program.kernel(name);
    queue.memArg(k, 0, mem, name);
    queue.intArg(k, 1, n, name);
    queue.floatArg(k, 2, value, name);
    launchElements(k, n, name);
  }

  @Override
  public synchronized void copy(DeviceArray src, DeviceArray dst) {
    ClBuffer s = live(src);
    ClBuffer d = live(dst);
    sameLength("copy", s, d);
    if (s.length() > 0 && s != d) {
      queue.copy(s.mem(), d.mem(), s.bytes());
    }
  }

  @Override
  public synchronized void trainerMean(List<DeviceArray> gradients, DeviceArray out) {
    if (gradients.isEmpty()) {
      throw new IllegalArgumentException("the trainer mean needs at least one gradient");
    }
    ClBuffer o = live(out);
    ClBuffer[] g = new ClBuffer[gradients.size()];
    for (int r = 0; r < g.length; r++) {
      g[r] = live(gradients.get(r));
      sameLength("trainer mean gradient " + r, g[r], o);
      // out = g0 is harmless (each element is read before it is written); out = gr, r > 0, is not.
      if (r > 0 && g[r] == o) {
        throw new IllegalArgumentException("the trainer mean's output is its input " + r);
      }
    }
    if (o.length() == 0) {
      return;
    }
    for (KernelLaunches.MeanStep step : KernelLaunches.trainerMean(g.length)) {
      _cl_mem a = step.a() == KernelLaunches.OUT ? o.mem() : g[step.a()].mem();
      _cl_mem b = step.b() == KernelLaunches.OUT ? o.mem() : g[step.b()].mem();
      switch (step.kernel()) {
        case KernelSource.ADD -> add(o.mem(), a, b, o.length());
        case KernelSource.DIV -> div(o.mem(), a, o.length(), step.k());
        case KernelSource.ADD_DIV -> addDiv(o.mem(), a, b, o.length(), step.k());
        default -> throw new IllegalStateException("unknown mean step " + step);
      }
    }
  }

  @Override
  public synchronized void addInPlace(DeviceArray sum, DeviceArray x) {
    ClBuffer s = live(sum);
    ClBuffer v = live(x);
    sameLength("addInPlace", v, s);
    if (s.length() > 0) {
      add(s.mem(), s.mem(), v.mem(), s.length());
    }
  }

  @Override
  public synchronized void windowMean(DeviceArray sum, DeviceArray x, float k, DeviceArray out) {
    ClBuffer v = live(x);
    ClBuffer o = live(out);
    sameLength("windowMean", v, o);
    ClBuffer s = sum == null ? null : live(sum);
    if (s != null) {
      sameLength("windowMean sum", s, o);
    }
    if (o.length() == 0) {
      return;
    }
    if (s == null) {
      div(o.mem(), v.mem(), o.length(), k);
    } else {
      addDiv(o.mem(), s.mem(), v.mem(), o.length(), k);
    }
  }

  private void add(_cl_mem out, _cl_mem a, _cl_mem b, int n) {
    String name = KernelSource.ADD;
    _cl_kernel k = program.kernel(name);
    queue.memArg(k, 0, out, name);
    queue.memArg(k, 1, a, name);
    queue.memArg(k, 2, b, name);
    queue.intArg(k, 3, n, name);
    launchElements(k, n, name);
  }

  private void div(_cl_mem out, _cl_mem a, int n, float by) {
    String name = KernelSource.DIV;
    _cl_kernel k = program.kernel(name);
    queue.memArg(k, 0, out, name);
    queue.memArg(k, 1, a, name);
    queue.intArg(k, 2, n, name);
    queue.floatArg(k, 3, by, name);
    launchElements(k, n, name);
  }

  private void addDiv(_cl_mem out, _cl_mem a, _cl_mem b, int n, float by) {
    String name = KernelSource.ADD_DIV;
    _cl_kernel k = program.kernel(name);
    queue.memArg(k, 0, out, name);
    queue.memArg(k, 1, a, name);
    queue.memArg(k, 2, b, name);
    queue.intArg(k, 3, n, name);
    queue.floatArg(k, 4, by, name);
    launchElements(k, n, name);
  }

  @Override
  public synchronized GradientReduction reduce(DeviceArray g, float clipValue) {
    ClBuffer v = live(g);
    if (!(clipValue > 0f)) {
      throw new IllegalArgumentException("clipValue must be > 0 (+inf for none), got " + clipValue);
    }
    int n = v.length();
    int blocks = ReductionBlocks.blockCount(n);
    if (blocks == 0) {
      return new GradientReduction(new double[0], -1);
    }
    ensureReduceCapacity(blocks);
    String name = KernelSource.BLOCK_REDUCE;
    _cl_kernel k = program.kernel(name);
    queue.memArg(k, 0, v.mem(), name);
    queue.intArg(k, 1, n, name);
    queue.floatArg(k, 2, clipValue, name);
    queue.memArg(k, 3, partials, name);
    queue.memArg(k, 4, firstBad, name);
    queue.launch(k, (long) blocks * KernelSource.REDUCE_GROUP_SIZE, KernelSource.REDUCE_GROUP_SIZE, name);
    int[] bad = new int[blocks];
    queue.readInts(firstBad, bad, blocks);
    for (int b = 0; b < blocks; b++) {
      if (bad[b] >= 0) {
        return new GradientReduction(new double[0], bad[b]);
      }
    }
    double[] sums = new double[blocks];
    queue.readDoubles(partials, sums, blocks);
    return new GradientReduction(sums, -1);
  }

  /** Grows the per-block result buffers of {@link #reduce} to at least {@code blocks}. */
  private void ensureReduceCapacity(int blocks) {
    if (reduceCapacity >= blocks) {
      return;
    }
    releaseReduceBuffers();
    int[] err = new int[1];
    _cl_mem p = clCreateBuffer(context, CL_MEM_READ_WRITE, 8L * blocks, null, err);
    ClStatus.check(err[0], "clCreateBuffer(block partials)");
    _cl_mem f = clCreateBuffer(context, CL_MEM_READ_WRITE, 4L * blocks, null, err);
    if (err[0] != 0) {
      clReleaseMemObject(p);
      ClStatus.check(err[0], "clCreateBuffer(block first non-finite)");
    }
    partials = p;
    firstBad = f;
    reduceCapacity = blocks;
  }

  private void releaseReduceBuffers() {
    if (partials != null) {
      clReleaseMemObject(partials);
      clReleaseMemObject(firstBad);
      partials = null;
      firstBad = null;
      reduceCapacity = 0;
    }
  }

  @Override
  public synchronized void apply(
      UpdateKernel kernel, DeviceArray param, DeviceArray grad, DeviceArray[] state, StepScalars s) {
    ClBuffer p = live(param);
    ClBuffer g = live(grad);
    sameLength("apply: grad", g, p);
    int slots = kernel.stateSlots().size();
    if (state.length != slots) {
      throw new IllegalArgumentException(kernel + " needs " + slots + " state slots "
          + kernel.stateSlots() + ", got " + state.length);
    }
    ClBuffer[] st = new ClBuffer[slots];
    for (int j = 0; j < slots; j++) {
      st[j] = live(state[j]);
      sameLength("apply: state slot " + kernel.stateSlots().get(j), st[j], p);
    }
    KernelLaunch launch = KernelLaunches.of(kernel, s);
    int n = p.length();
    if (n == 0) {
      return;
    }
    String name = launch.kernel();
    _cl_kernel k = program.kernel(name);
    int arg = 0;
    queue.memArg(k, arg++, p.mem(), name);
    queue.memArg(k, arg++, g.mem(), name);
    for (int slot : launch.stateArgs()) {
      queue.memArg(k, arg++, slot < 0 ? null : st[slot].mem(), name);
    }
    queue.intArg(k, arg++, n, name);
    for (float f : launch.floats()) {
      queue.floatArg(k, arg++, f, name);
    }
    for (int i : launch.ints()) {
      queue.intArg(k, arg++, i, name);
    }
    launchElements(k, n, name);
  }

  /** Waits until every queued command has run (for benchmarks; downloads wait by themselves). */
  public synchronized void finish() {
    open();
    ClStatus.check(queue.finish(), "clFinish");
  }

  private void launchElements(_cl_kernel k, int n, String name) {
    long global = ((long) n + groupSize - 1) / groupSize * groupSize;
    queue.launch(k, global, groupSize, name);
  }

  private static void sameLength(String what, ClBuffer a, ClBuffer b) {
    if (a.length() != b.length()) {
      throw new IllegalArgumentException(
          what + ": " + a.length() + " floats where " + b.length() + " are needed");
    }
  }

  private ClBuffer mine(DeviceArray a) {
    Objects.requireNonNull(a, "array");
    if (!(a instanceof ClBuffer b) || b.owner() != this) {
      throw new IllegalArgumentException("not an array of this opencl backend: " + a);
    }
    return b;
  }

  private ClBuffer live(DeviceArray a) {
    open();
    ClBuffer b = mine(a);
    if (b.released()) {
      throw new IllegalStateException("opencl array of " + b.length() + " floats used after release");
    }
    return b;
  }

  private void open() {
    if (closed) {
      throw new IllegalStateException("the opencl backend on " + deviceName + " is closed");
    }
  }

  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    queue.close();
    for (ClBuffer b : live) {
      _cl_mem m = b.release();
      if (m != null) {
        clReleaseMemObject(m);
      }
    }
    live.clear();
    usedBytes = 0;
    releaseReduceBuffers();
    program.close();
    clReleaseContext(context);
  }

  @Override
  public String toString() {
    return "OpenClBackend(" + deviceName + ")";
  }
}
