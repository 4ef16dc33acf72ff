package dev.shardopt.device.cuda;

import static org.bytedeco.cuda.global.cudart.cuDeviceGet;
import static org.bytedeco.cuda.global.cudart.cuDeviceGetName;
import static org.bytedeco.cuda.global.cudart.cuInit;
import static org.bytedeco.cuda.global.cudart.cudaDevAttrComputeCapabilityMajor;
import static org.bytedeco.cuda.global.cudart.cudaDevAttrComputeCapabilityMinor;
import static org.bytedeco.cuda.global.cudart.cudaDeviceGetAttribute;
import static org.bytedeco.cuda.global.cudart.cudaDeviceSynchronize;
import static org.bytedeco.cuda.global.cudart.cudaDriverGetVersion;
import static org.bytedeco.cuda.global.cudart.cudaErrorInsufficientDriver;
import static org.bytedeco.cuda.global.cudart.cudaErrorMemoryAllocation;
import static org.bytedeco.cuda.global.cudart.cudaErrorNoDevice;
import static org.bytedeco.cuda.global.cudart.cudaErrorStubLibrary;
import static org.bytedeco.cuda.global.cudart.cudaEventCreate;
import static org.bytedeco.cuda.global.cudart.cudaEventDestroy;
import static org.bytedeco.cuda.global.cudart.cudaEventElapsedTime;
import static org.bytedeco.cuda.global.cudart.cudaEventRecord;
import static org.bytedeco.cuda.global.cudart.cudaEventSynchronize;
import static org.bytedeco.cuda.global.cudart.cudaFree;
import static org.bytedeco.cuda.global.cudart.cudaGetDeviceCount;
import static org.bytedeco.cuda.global.cudart.cudaGetLastError;
import static org.bytedeco.cuda.global.cudart.cudaMalloc;
import static org.bytedeco.cuda.global.cudart.cudaMemGetInfo;
import static org.bytedeco.cuda.global.cudart.cudaMemcpy;
import static org.bytedeco.cuda.global.cudart.cudaMemcpyAsync;
import static org.bytedeco.cuda.global.cudart.cudaMemcpyDeviceToDevice;
import static org.bytedeco.cuda.global.cudart.cudaMemcpyDeviceToHost;
import static org.bytedeco.cuda.global.cudart.cudaMemset;
import static org.bytedeco.cuda.global.cudart.cudaRuntimeGetVersion;
import static org.bytedeco.cuda.global.cudart.cudaSetDevice;
import static org.bytedeco.cuda.global.cudart.cudaSuccess;

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
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import org.bytedeco.cuda.cudart.CUevent_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.SizeTPointer;

/**
 * Shards in the device memory of one CUDA GPU, updated by the kernels of {@link KernelSource}
 * compiled for that GPU's own architecture (see {@link CudaOptions} for how). Bitwise equal to
 * {@link dev.shardopt.engine.device.CpuBackend}: the kernels follow the Java kernels' operation order
 * and are compiled without contraction and with IEEE division and square root; the reduction is
 * {@link ReductionBlocks}' order, one 64-thread block per reduction block.
 *
 * <p>Every CUDA call runs on one thread per backend ({@link CudaThread}); kernels and copies go to
 * the legacy default stream in call order. Element-wise kernels run in blocks of {@value #BLOCK_SIZE}
 * threads, the reduction in blocks of {@link KernelSource#REDUCE_GROUP_SIZE}. Host copies go through
 * {@link PinnedStaging}.
 */
public final class CudaBackend implements DeviceBackend {
  /** Threads per block of the element-wise kernels. */
  static final int BLOCK_SIZE = 256;

  private final int index;
  private final CudaOptions options;
  private final CudaThread thread;
  private final String deviceName;
  private final int ccMajor;
  private final int ccMinor;
  private final String versions;
  private final CudaModule module;
  private final PinnedStaging staging;
  private final LaunchArguments args;
  private final Set<CudaArray> live = Collections.newSetFromMap(new IdentityHashMap<>());
  private long usedBytes;
  private long scratchAddress;
  private long scratchBytes;
  private volatile boolean closed;

  /** Opens device {@code index}; the CUDA bindings must already be loaded (see the provider). */
  static CudaBackend open(int index, CudaOptions options) {
    CudaThread thread = new CudaThread("shardopt-cuda-" + index);
    try {
      return thread.call(() -> new CudaBackend(index, options, thread));
    } catch (RuntimeException e) {
      thread.close();
      if (e instanceof DeviceUnavailableException) {
        throw e;
      }
      throw new DeviceUnavailableException("cuda: cannot open device " + index + ": "
          + NativeLoadFailure.oneLine(String.valueOf(e.getMessage())), e);
    }
  }

  /** Runs on {@code thread}. */
  private CudaBackend(int index, CudaOptions options, CudaThread thread) {
    this.index = index;
    this.options = options;
    this.thread = thread;
    int[] driver = new int[1];
    int[] runtime = new int[1];
    cudaDriverGetVersion(driver);
    cudaRuntimeGetVersion(runtime);
    this.versions = "driver CUDA " + version(driver[0]) + ", runtime " + version(runtime[0]);
    int[] count = new int[1];
    int rc = cudaGetDeviceCount(count);
    if (rc == cudaErrorInsufficientDriver) {
      throw new DeviceUnavailableException("cuda: the NVIDIA driver supports CUDA " + version(driver[0])
          + ", older than the CUDA runtime " + version(runtime[0]) + " (update the driver)");
    }
    if (rc == cudaErrorNoDevice) {
      throw new DeviceUnavailableException("cuda: no CUDA device on this machine (" + versions + ")");
    }
    if (rc == cudaErrorStubLibrary) {
      throw new DeviceUnavailableException(
          "cuda: libcuda.so.1 is the CUDA toolkit's stub, not an NVIDIA driver (no GPU driver installed)");
    }
    if (rc != cudaSuccess) {
      throw new DeviceUnavailableException("cuda: cudaGetDeviceCount failed: "
          + CudaErrors.runtimeName(rc) + ": " + CudaErrors.runtimeText(rc) + " (" + versions + ")");
    }
    if (index < 0 || index >= count[0]) {
      throw new DeviceUnavailableException(
          "cuda: no device at index " + index + " (this machine has " + count[0] + ")");
    }
    CudaErrors.check(cudaSetDevice(index), "cudaSetDevice(" + index + ")");
    // Creates the primary context now and makes it current on this thread (the driver-API calls below need it).
    CudaErrors.check(cudaFree(null), "cudaFree(null) (context creation)");
    CudaErrors.checkDriver(cuInit(0), "cuInit");
    int[] major = new int[1];
    int[] minor = new int[1];
    CudaErrors.check(cudaDeviceGetAttribute(major, cudaDevAttrComputeCapabilityMajor, index), "cudaDeviceGetAttribute(major)");
    CudaErrors.check(cudaDeviceGetAttribute(minor, cudaDevAttrComputeCapabilityMinor, index), "cudaDeviceGetAttribute(minor)");
    this.ccMajor = major[0];
    this.ccMinor = minor[0];
    this.deviceName = deviceName(index);

    KernelImage image = compile(options, KernelSource.cuda(), ccMajor, ccMinor);
    CudaModule m = null;
    PinnedStaging st = null;
    LaunchArguments la = null;
    try {
      m = new CudaModule(image);
      st = new PinnedStaging(new HostCopier(HostCopier.defaultThreads()));
      la = new LaunchArguments();
    } catch (RuntimeException e) {
      if (st != null) {
        st.close();
      }
      if (m != null) {
        m.close();
      }
      throw e;
    }
    this.module = m;
    this.staging = st;
    this.args = la;
  }

  private static String deviceName(int index) {
    int[] device = new int[1];
    CudaErrors.checkDriver(cuDeviceGet(device, index), "cuDeviceGet(" + index + ")");
    byte[] name = new byte[256];
    CudaErrors.checkDriver(cuDeviceGetName(name, name.length, device[0]), "cuDeviceGetName");
    int end = 0;
    while (end < name.length && name[end] != 0) {
      end++;
    }
    return new String(name, 0, end, StandardCharsets.UTF_8);
  }

  /** The first compiler that can run here; a source that does not compile fails at once. */
  private static KernelImage compile(CudaOptions options, String source, int major, int minor) {
    List<String> reasons = new ArrayList<>();
    for (KernelCompiler c : options.compilers()) {
      try {
        return c.compile(source, major, minor);
      } catch (KernelCompiler.Unavailable e) {
        reasons.add(c.name() + ": " + e.getMessage());
      }
    }
    throw new DeviceUnavailableException("cuda: no way to compile the kernels for sm_" + major + minor
        + " here (" + String.join("; ", reasons) + ")");
  }

  /** CUDA's version integer 1000 * major + 10 * minor as "major.minor". */
  static String version(int v) {
    return v <= 0 ? "none" : (v / 1000) + "." + (v % 1000) / 10;
  }

  @Override
  public String kind() {
    return "cuda";
  }

  /** Device index, name, architecture, CUDA versions and how the kernels were built: one line. */
  public String describe() {
    return "cuda device " + index + ": " + deviceName + ", sm_" + ccMajor + ccMinor + ", " + versions
        + ", kernels: " + module.producedBy() + ", host copies on " + staging.copyThreads() + " threads";
  }

  @Override
  public DeviceInfo info() {
    return thread.call(() -> {
      long[] ft = memInfo();
      return new DeviceInfo("cuda", deviceName, ft[1], ft[0], usedBytes);
    });
  }

  /** {free, total} bytes of the device. */
  private static long[] memInfo() {
    try (SizeTPointer free = new SizeTPointer(1); SizeTPointer total = new SizeTPointer(1)) {
      CudaErrors.check(cudaMemGetInfo(free, total), "cudaMemGetInfo");
      return new long[] {free.get(), total.get()};
    }
  }

  @Override
  public DeviceArray allocate(int length) {
    if (length < 0) {
      throw new IllegalArgumentException("negative length " + length);
    }
    return thread.call(() -> {
      ensureOpen();
      long bytes = 4L * length;
      if (length == 0) {
        CudaArray a = new CudaArray(this, 0L, 0);
        live.add(a);
        return a;
      }
      long[] ft = memInfo();
      if (bytes > ft[0]) {
        throw outOfMemory(length, ft[0], ft[1]);
      }
      long address = malloc(bytes);
      if (address == 0L) {
        long[] now = memInfo();
        throw outOfMemory(length, now[0], now[1]);
      }
      CudaErrors.check(cudaMemset(new DevicePointer(address), 0, bytes), "cudaMemset");
      CudaArray a = new CudaArray(this, address, length);
      live.add(a);
      usedBytes += bytes;
      return a;
    });
  }

  /** cudaMalloc; 0 when the device is out of memory. */
  private static long malloc(long bytes) {
    Pointer p = new Pointer();
    int rc = cudaMalloc(p, bytes);
    if (rc == cudaErrorMemoryAllocation) {
      cudaGetLastError(); // clears the (non-sticky) error so later calls do not report it
      return 0L;
    }
    CudaErrors.check(rc, "cudaMalloc(" + bytes + " bytes)");
    return p.address();
  }

  private DeviceMemoryException outOfMemory(int length, long free, long total) {
    long bytes = 4L * length;
    return new DeviceMemoryException(String.format(Locale.ROOT,
        "cuda device %d (%s) has %s free of %s; an array of %d floats needs %s (%d bytes, %d free)",
        index, deviceName, gib(free), gib(total), length, gib(bytes), bytes, free), bytes, free);
  }

  private static String gib(long bytes) {
    return String.format(Locale.ROOT, "%.2f GiB", bytes / (double) (1L << 30));
  }

  @Override
  public void release(DeviceArray array) {
    CudaArray a = own(array);
    if (closed) {
      a.markReleased(); // close() freed it already
      return;
    }
    thread.run(() -> {
      long address = a.markReleased();
      if (live.remove(a)) {
        usedBytes -= a.bytes();
      }
      if (address != 0L && !closed) {
        CudaErrors.check(cudaFree(new DevicePointer(address)), "cudaFree");
      }
    });
  }

  @Override
  public void upload(float[] src, int srcFrom, DeviceArray dst, int dstFrom, int n) {
    CudaArray d = own(dst);
    Objects.checkFromIndexSize(srcFrom, n, src.length);
    Objects.checkFromIndexSize(dstFrom, n, d.length());
    if (n == 0) {
      return;
    }
    thread.run(() -> {
      ensureOpen();
      staging.upload(src, srcFrom, d.address(dstFrom), n);
    });
  }

  @Override
  public void download(DeviceArray src, int srcFrom, float[] dst, int dstFrom, int n) {
    CudaArray s = own(src);
    Objects.checkFromIndexSize(srcFrom, n, s.length());
    Objects.checkFromIndexSize(dstFrom, n, dst.length);
    if (n == 0) {
      return;
    }
    thread.run(() -> {
      ensureOpen();
      staging.download(s.address(srcFrom), dst, dstFrom, n);
    });
  }

  @Override
  public void fill(DeviceArray dst, float value) {
    CudaArray d = own(dst);
    thread.run(() -> {
      ensureOpen();
      int n = d.length();
      if (n > 0) {
        args.reset().address(d.address(0)).i32(n).f32(value);
        launchElementwise(KernelSource.FILL, n);
      }
    });
  }

  @Override
  public void copy(DeviceArray src, DeviceArray dst) {
    CudaArray s = own(src);
    CudaArray d = own(dst);
    if (s.length() != d.length()) {
      throw new IllegalArgumentException("copy of " + s.length() + " floats into " + d.length());
    }
    thread.run(() -> {
      ensureOpen();
      if (s.length() > 0) {
        CudaErrors.check(cudaMemcpyAsync(new DevicePointer(d.address(0)), new DevicePointer(s.address(0)),
            s.bytes(), cudaMemcpyDeviceToDevice, (CUstream_st) null), "cudaMemcpyAsync(device to device)");
      }
    });
  }

  @Override
  public void trainerMean(List<DeviceArray> gradients, DeviceArray out) {
    CudaArray o = own(out);
    List<KernelLaunches.MeanStep> steps = KernelLaunches.trainerMean(gradients.size());
    CudaArray[] g = new CudaArray[gradients.size()];
    for (int r = 0; r < g.length; r++) {
      g[r] = own(gradients.get(r));
      if (g[r] == o) {
        throw new IllegalArgumentException("the trainer mean's output is also its input " + r);
      }
      sameLength(g[r], o, "gradient " + r);
    }
    thread.run(() -> {
      ensureOpen();
      int n = o.length();
      if (n == 0) {
        return;
      }
      for (KernelLaunches.MeanStep step : steps) {
        long a = (step.a() == KernelLaunches.OUT ? o : g[step.a()]).address(0);
        args.reset().address(o.address(0)).address(a);
        switch (step.kernel()) {
          case KernelSource.DIV -> args.i32(n).f32(step.k());
          case KernelSource.ADD -> args.address(inputAddress(step.b(), g, o)).i32(n);
          case KernelSource.ADD_DIV -> args.address(inputAddress(step.b(), g, o)).i32(n).f32(step.k());
          default -> throw new IllegalStateException("unexpected mean step " + step);
        }
        launchElementwise(step.kernel(), n);
      }
    });
  }

  private static long inputAddress(int which, CudaArray[] g, CudaArray out) {
    return (which == KernelLaunches.OUT ? out : g[which]).address(0);
  }

  @Override
  public void addInPlace(DeviceArray sum, DeviceArray x) {
    CudaArray s = own(sum);
    CudaArray v = own(x);
    sameLength(v, s, "x");
    thread.run(() -> {
      ensureOpen();
      int n = s.length();
      if (n > 0) {
        args.reset().address(s.address(0)).address(s.address(0)).address(v.address(0)).i32(n);
        launchElementwise(KernelSource.ADD, n);
      }
    });
  }

  @Override
  public void windowMean(DeviceArray sum, DeviceArray x, float k, DeviceArray out) {
    CudaArray s = sum == null ? null : own(sum);
    CudaArray v = own(x);
    CudaArray o = own(out);
    sameLength(v, o, "x");
    if (s != null) {
      sameLength(s, o, "sum");
    }
    thread.run(() -> {
      ensureOpen();
      int n = o.length();
      if (n == 0) {
        return;
      }
      if (s == null) {
        args.reset().address(o.address(0)).address(v.address(0)).i32(n).f32(k);
        launchElementwise(KernelSource.DIV, n);
      } else {
        args.reset().address(o.address(0)).address(s.address(0)).address(v.address(0)).i32(n).f32(k);
        launchElementwise(KernelSource.ADD_DIV, n);
      }
    });
  }

  @Override
  public GradientReduction reduce(DeviceArray g, float clipValue) {
    CudaArray a = own(g);
    if (!(clipValue > 0f)) {
      throw new IllegalArgumentException("clipValue must be > 0 (+inf for none), got " + clipValue);
    }
    return thread.call(() -> {
      ensureOpen();
      int n = a.length();
      int blocks = ReductionBlocks.blockCount(n);
      if (blocks == 0) {
        return new GradientReduction(new double[0], -1);
      }
      long partials = scratch(12L * blocks);
      long bad = partials + 8L * blocks;
      args.reset().address(a.address(0)).i32(n).f32(clipValue).address(partials).address(bad);
      args.launch(module.function(KernelSource.BLOCK_REDUCE), KernelSource.BLOCK_REDUCE, blocks,
          KernelSource.REDUCE_GROUP_SIZE);
      long host = staging.scratchAddress();
      CudaErrors.check(cudaMemcpy(new DevicePointer(host), new DevicePointer(partials), 12L * blocks,
          cudaMemcpyDeviceToHost), "cudaMemcpy(reduction results)");
      double[] sums = new double[blocks];
      int[] firstBad = new int[blocks];
      new DoublePointer(new DevicePointer(host)).capacity(blocks).get(sums, 0, blocks);
      new IntPointer(new DevicePointer(host + 8L * blocks)).capacity(blocks).get(firstBad, 0, blocks);
      int first = -1;
      for (int b = 0; b < blocks; b++) {
        if (firstBad[b] >= 0) {
          first = firstBad[b];
          break; // blocks are in index order: the first block with a bad element has the lowest index
        }
      }
      return new GradientReduction(first >= 0 ? new double[0] : sums, first);
    });
  }

  /** Device scratch of at least {@code bytes} (grown, never shrunk); 16-byte aligned (cudaMalloc's). */
  private long scratch(long bytes) {
    if (bytes > scratchBytes) {
      if (scratchAddress != 0L) {
        CudaErrors.check(cudaFree(new DevicePointer(scratchAddress)), "cudaFree(scratch)");
        scratchAddress = 0L;
        scratchBytes = 0L;
      }
      long address = malloc(bytes);
      if (address == 0L) {
        throw new DeviceMemoryException("cuda device " + index + " has no room for the " + bytes
            + " bytes of the reduction's scratch", bytes, memInfo()[0]);
      }
      scratchAddress = address;
      scratchBytes = bytes;
    }
    return scratchAddress;
  }

  @Override
  public void apply(UpdateKernel kernel, DeviceArray param, DeviceArray grad, DeviceArray[] state, StepScalars s) {
    KernelLaunch launch = KernelLaunches.of(kernel, s);
    CudaArray p = own(param);
    CudaArray g = own(grad);
    sameLength(g, p, "grad");
    int slots = kernel.stateSlots().size();
    if (state.length != slots) {
      throw new IllegalArgumentException(kernel + " has " + slots + " state slots, got " + state.length);
    }
    CudaArray[] st = new CudaArray[slots];
    for (int j = 0; j < slots; j++) {
      st[j] = own(state[j]);
      sameLength(st[j], p, "state slot " + kernel.stateSlots().get(j));
    }
    thread.run(() -> {
      ensureOpen();
      int n = p.length();
      if (n == 0) {
        return;
      }
      args.reset().address(p.address(0)).address(g.address(0));
      for (int slot : launch.stateArgs()) {
        args.address(slot < 0 ? 0L : st[slot].address(0));
      }
      args.i32(n);
      for (float f : launch.floats()) {
        args.f32(f);
      }
      for (int i : launch.ints()) {
        args.i32(i);
      }
      launchElementwise(launch.kernel(), n);
    });
  }

  private void launchElementwise(String kernel, int n) {
    long grid = ((long) n + BLOCK_SIZE - 1) / BLOCK_SIZE;
    args.launch(module.function(kernel), kernel, grid, BLOCK_SIZE);
  }

  /** Waits for every queued kernel and copy; surfaces any error of theirs. */
  public void synchronize() {
    thread.run(() -> {
      ensureOpen();
      CudaErrors.check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    });
  }

  /**
   * Milliseconds the device took for what {@code work} queues, measured by CUDA events on the
   * default stream around it ({@code work} runs on the backend's thread and may call this backend).
   */
  public float timeMillis(Runnable work) {
    return thread.call(() -> {
      ensureOpen();
      CUevent_st start = new CUevent_st();
      CUevent_st stop = new CUevent_st();
      CudaErrors.check(cudaEventCreate(start), "cudaEventCreate");
      try {
        CudaErrors.check(cudaEventCreate(stop), "cudaEventCreate");
        try {
          CudaErrors.check(cudaEventRecord(start, (CUstream_st) null), "cudaEventRecord");
          work.run();
          CudaErrors.check(cudaEventRecord(stop, (CUstream_st) null), "cudaEventRecord");
          CudaErrors.check(cudaEventSynchronize(stop), "cudaEventSynchronize");
          float[] ms = new float[1];
          CudaErrors.check(cudaEventElapsedTime(ms, start, stop), "cudaEventElapsedTime");
          return ms[0];
        } finally {
          cudaEventDestroy(stop);
        }
      } finally {
        cudaEventDestroy(start);
      }
    });
  }

  /**
   * Compiles {@code source} as the backend's own kernels are compiled (same compilers, flags and
   * architecture) and loads it, for the benchmark's kernel variants. The caller closes the module.
   */
  CudaModule loadModule(String source, List<String> kernels) {
    return thread.call(() -> {
      ensureOpen();
      return new CudaModule(compile(options, source, ccMajor, ccMinor), kernels);
    });
  }

  /**
   * Launches {@code kernel} of {@code module} (null: the backend's own) with the arguments {@code
   * setArgs} puts after a reset.
   */
  void launch(CudaModule module, String kernel, long grid, int block, java.util.function.Consumer<LaunchArguments> setArgs) {
    thread.run(() -> {
      ensureOpen();
      setArgs.accept(args.reset());
      args.launch((module == null ? this.module : module).function(kernel), kernel, grid, block);
    });
  }

  /** Device address of element 0 of {@code a} (for the benchmark's variant launches). */
  long address(DeviceArray a) {
    return own(a).address(0);
  }

  /** Runs {@code work} on the backend's thread (for the benchmark's raw-copy measurements). */
  <T> T onDeviceThread(java.util.concurrent.Callable<T> work) {
    return thread.call(() -> {
      ensureOpen();
      return work.call();
    });
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    thread.run(() -> {
      if (closed) {
        return;
      }
      cudaDeviceSynchronize();
      for (CudaArray a : live) {
        long address = a.markReleased();
        if (address != 0L) {
          cudaFree(new DevicePointer(address));
        }
      }
      live.clear();
      usedBytes = 0L;
      if (scratchAddress != 0L) {
        cudaFree(new DevicePointer(scratchAddress));
        scratchAddress = 0L;
      }
      args.close();
      staging.close();
      module.close();
      closed = true;
    });
    thread.close();
  }

  private void ensureOpen() {
    if (closed) {
      throw new IllegalStateException("the cuda backend of device " + index + " is closed");
    }
  }

  private CudaArray own(DeviceArray array) {
    Objects.requireNonNull(array, "array");
    if (!(array instanceof CudaArray a) || a.owner() != this) {
      throw new IllegalArgumentException("not an array of this cuda backend: " + array);
    }
    return a;
  }

  private static void sameLength(CudaArray a, CudaArray expected, String what) {
    if (a.length() != expected.length()) {
      throw new IllegalArgumentException(
          what + " has " + a.length() + " floats, expected " + expected.length());
    }
  }
}
