package dev.shardopt.device.cuda;

import static org.bytedeco.cuda.global.cudart.cuLaunchKernel;

import org.bytedeco.cuda.cudart.CUfunc_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;

/**
 * The {@code void** kernelParams} of {@code cuLaunchKernel}: one 8-byte cell per argument holding
 * its value (a device address, an int or a float in the low bytes), and an array of the cells'
 * addresses. Allocated once per backend and reused by every launch: all launches run on the
 * backend's one thread, and cuLaunchKernel copies the values before it returns.
 */
final class LaunchArguments implements AutoCloseable {
  static final int MAX_ARGS = 32;

  private final BytePointer cells = new BytePointer(8L * MAX_ARGS);
  private final LongPointer params = new LongPointer(MAX_ARGS);
  private int count;

  LaunchArguments() {
    for (int i = 0; i < MAX_ARGS; i++) {
      params.put(i, cells.address() + 8L * i);
    }
  }

  LaunchArguments reset() {
    count = 0;
    return this;
  }

  /** A pointer argument (0 for a null pointer). */
  LaunchArguments address(long deviceAddress) {
    cells.putLong(8L * next(), deviceAddress);
    return this;
  }

  LaunchArguments i32(int value) {
    int i = next();
    cells.putLong(8L * i, 0L);
    cells.putInt(8L * i, value);
    return this;
  }

  LaunchArguments f32(float value) {
    int i = next();
    cells.putLong(8L * i, 0L);
    cells.putFloat(8L * i, value);
    return this;
  }

  LaunchArguments f64(double value) {
    cells.putDouble(8L * next(), value);
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

  /** Launches {@code function} on the default stream with the arguments set since {@link #reset}. */
  void launch(CUfunc_st function, String name, long grid, int block) {
    if (grid < 1 || grid > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("cuda: grid of " + grid + " blocks for " + name);
    }
    CudaErrors.checkDriver(
        cuLaunchKernel(function, (int) grid, 1, 1, block, 1, 1, 0, (CUstream_st) null, params, (Pointer) null),
        "cuLaunchKernel(" + name + ", " + grid + " x " + block + ")");
  }

  private int next() {
    if (count == MAX_ARGS) {
      throw new IllegalStateException("more than " + MAX_ARGS + " kernel arguments");
    }
    return count++;
  }

  @Override
  public void close() {
    cells.close();
    params.close();
  }
}
