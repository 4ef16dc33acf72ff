package dev.shardopt.device.cuda;

import static org.bytedeco.cuda.global.cudart.CUDA_ERROR_INVALID_VALUE;
import static org.bytedeco.cuda.global.cudart.CUDA_SUCCESS;
import static org.bytedeco.cuda.global.cudart.CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK;
import static org.bytedeco.cuda.global.cudart.CU_FUNC_ATTRIBUTE_NUM_REGS;
import static org.bytedeco.cuda.global.cudart.cuCtxGetCurrent;
import static org.bytedeco.cuda.global.cudart.cuFuncGetAttribute;
import static org.bytedeco.cuda.global.cudart.cuLaunchKernel;

import java.io.PrintStream;
import java.util.Locale;
import org.bytedeco.cuda.cudart.CUctx_st;
import org.bytedeco.cuda.cudart.CUfunc_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.PointerPointer;

/**
 * The arguments of a {@code cuLaunchKernel}: one 8-byte cell per argument holding its value (a
 * device address, an int or a float in the low bytes, little-endian), and the {@code void**
 * kernelParams} array of the cells' addresses. Allocated once per backend and reused by every launch:
 * all launches run on the backend's one thread, and cuLaunchKernel copies the values before it
 * returns.
 *
 * <p>The array goes through bytedeco's {@code PointerPointer} overload, whose {@code void**} is
 * passed as is. The {@code Pointer} overload is annotated {@code @ByPtrPtr}: it would pass the
 * address of a temporary holding the array's address (and a non-null {@code extra}), which the
 * driver refuses with CUDA_ERROR_INVALID_VALUE ({@code BindingContractTest} pins this down).
 *
 * <p>Should the driver still refuse the first launch of a backend with CUDA_ERROR_INVALID_VALUE, the
 * launch prints what it passed and retries once with the arguments packed into one buffer given
 * through {@code extra} ({@code CU_LAUNCH_PARAM_BUFFER_POINTER}), the driver's other documented way;
 * if that works, the backend keeps it.
 */
final class LaunchArguments implements AutoCloseable {
  static final int MAX_ARGS = 32;
  private static final long PARAM_BUFFER_POINTER = 0x01;
  private static final long PARAM_BUFFER_SIZE = 0x02;
  private static final long PARAM_END = 0x00;

  private final BytePointer cells = new BytePointer(8L * MAX_ARGS);
  private final LongPointer params = new LongPointer(MAX_ARGS);
  private final PointerPointer<?> paramsArray;
  private final BytePointer packed = new BytePointer(8L * MAX_ARGS);
  private final LongPointer packedSize = new LongPointer(1);
  private final LongPointer extra = new LongPointer(5);
  private final PointerPointer<?> extraArray;
  private final int[] sizes = new int[MAX_ARGS];
  private final PrintStream log;
  private int count;
  private boolean verified;
  private boolean usePackedBuffer;

  LaunchArguments(PrintStream log) {
    this.log = log;
    for (int i = 0; i < MAX_ARGS; i++) {
      params.put(i, cells.address() + 8L * i);
    }
    this.paramsArray = new PointerPointer<>(params);
    this.extraArray = new PointerPointer<>(extra);
  }

  LaunchArguments() {
    this(System.err);
  }

  LaunchArguments reset() {
    count = 0;
    return this;
  }

  /** A pointer argument (0 for a null pointer). */
  LaunchArguments address(long deviceAddress) {
    int i = next(8);
    cells.putLong(8L * i, deviceAddress);
    return this;
  }

  LaunchArguments i32(int value) {
    int i = next(4);
    cells.putLong(8L * i, 0L);
    cells.putInt(8L * i, value);
    return this;
  }

  LaunchArguments f32(float value) {
    int i = next(4);
    cells.putLong(8L * i, 0L);
    cells.putFloat(8L * i, value);
    return this;
  }

  LaunchArguments f64(double value) {
    cells.putDouble(8L * next(8), value);
    return this;
  }

  int count() {
    return count;
  }

  /** Address of argument {@code i}'s value cell (tests check the layout through it). */
  long cellAddress(int i) {
    return cells.address() + 8L * i;
  }

  /** Entry {@code i} of the {@code void**} array handed to cuLaunchKernel. */
  long paramEntry(int i) {
    return params.get(i);
  }

  /** The address cuLaunchKernel receives as {@code kernelParams}. */
  long paramsArrayAddress() {
    return paramsArray.address();
  }

  /** Launches {@code function} on the default stream with the arguments set since {@link #reset}. */
  void launch(CUfunc_st function, String name, long grid, int block) {
    if (grid < 1 || grid > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("cuda: grid of " + grid + " blocks for " + name);
    }
    int rc = usePackedBuffer ? launchPacked(function, (int) grid, block) : launchParams(function, (int) grid, block);
    if (rc == CUDA_ERROR_INVALID_VALUE && !verified) {
      log.println("cuda: cuLaunchKernel(" + name + ") refused its arguments (CUDA_ERROR_INVALID_VALUE): "
          + diagnostics(function, grid, block));
      int retry = launchPacked(function, (int) grid, block);
      if (retry == CUDA_SUCCESS) {
        log.println("cuda: the same launch with the arguments packed into CU_LAUNCH_PARAM_BUFFER_POINTER"
            + " worked; this backend launches that way from now on");
        usePackedBuffer = true;
        rc = retry;
      } else {
        log.println("cuda: the packed-buffer launch failed too: " + CudaErrors.driverName(retry));
      }
    }
    CudaErrors.checkDriver(rc, "cuLaunchKernel(" + name + ", " + grid + " x " + block + ")");
    verified = true;
  }

  private int launchParams(CUfunc_st function, int grid, int block) {
    return cuLaunchKernel(function, grid, 1, 1, block, 1, 1, 0, (CUstream_st) null, paramsArray,
        (PointerPointer<?>) null);
  }

  private int launchPacked(CUfunc_st function, int grid, int block) {
    long size = pack();
    packedSize.put(0, size);
    extra.put(0, PARAM_BUFFER_POINTER).put(1, packed.address()).put(2, PARAM_BUFFER_SIZE)
        .put(3, packedSize.address()).put(4, PARAM_END);
    return cuLaunchKernel(function, grid, 1, 1, block, 1, 1, 0, (CUstream_st) null, (PointerPointer<?>) null,
        extraArray);
  }

  /**
   * Copies the arguments into {@link #packed} as the kernel's parameter block lays them out (each at
   * the next multiple of its own size); returns the block's size.
   */
  long pack() {
    long offset = 0;
    for (int i = 0; i < count; i++) {
      int size = sizes[i];
      offset = (offset + size - 1) / size * size;
      if (size == 8) {
        packed.putLong(offset, cells.getLong(8L * i));
      } else {
        packed.putInt(offset, cells.getInt(8L * i));
      }
      offset += size;
    }
    return offset;
  }

  /** The packed block's first {@code bytes} as hex (tests). */
  String packedHex(int bytes) {
    StringBuilder sb = new StringBuilder();
    for (int b = 0; b < bytes; b++) {
      sb.append(String.format(Locale.ROOT, "%02x", packed.get(b) & 0xff));
    }
    return sb.toString();
  }

  /** What a refused launch passed, for the one run that has to explain itself. */
  private String diagnostics(CUfunc_st function, long grid, int block) {
    StringBuilder sb = new StringBuilder();
    CUctx_st ctx = new CUctx_st();
    int ctxRc = cuCtxGetCurrent(ctx);
    int[] maxThreads = {-1};
    int[] regs = {-1};
    cuFuncGetAttribute(maxThreads, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, function);
    cuFuncGetAttribute(regs, CU_FUNC_ATTRIBUTE_NUM_REGS, function);
    sb.append(String.format(Locale.ROOT, "function 0x%x, current context 0x%x (rc %d), grid %d, block %d,"
            + " max threads per block %d, registers %d, kernelParams 0x%x, %d arguments:",
        function.address(), ctx.address(), ctxRc, grid, block, maxThreads[0], regs[0], paramsArray.address(), count));
    for (int i = 0; i < count; i++) {
      sb.append(String.format(Locale.ROOT, " [%d] entry 0x%x -> %d bytes 0x%016x", i, params.get(i), sizes[i],
          cells.getLong(8L * i)));
    }
    return sb.toString();
  }

  private int next(int size) {
    if (count == MAX_ARGS) {
      throw new IllegalStateException("more than " + MAX_ARGS + " kernel arguments");
    }
    sizes[count] = size;
    return count++;
  }

  @Override
  public void close() {
    cells.close();
    params.close();
    packed.close();
    packedSize.close();
    extra.close();
  }
}
