package dev.shardopt.device.opencl;

import static org.bytedeco.opencl.global.OpenCL.CL_TRUE;
import static org.bytedeco.opencl.global.OpenCL.clEnqueueCopyBuffer;
import static org.bytedeco.opencl.global.OpenCL.clEnqueueNDRangeKernel;
import static org.bytedeco.opencl.global.OpenCL.clEnqueueReadBuffer;
import static org.bytedeco.opencl.global.OpenCL.clEnqueueWriteBuffer;
import static org.bytedeco.opencl.global.OpenCL.clFinish;
import static org.bytedeco.opencl.global.OpenCL.clReleaseCommandQueue;
import static org.bytedeco.opencl.global.OpenCL.clSetKernelArg;

import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;
import org.bytedeco.javacpp.SizeTPointer;
import org.bytedeco.opencl._cl_command_queue;
import org.bytedeco.opencl._cl_event;
import org.bytedeco.opencl._cl_kernel;
import org.bytedeco.opencl._cl_mem;

/**
 * One in-order command queue and the native scratch memory its calls need: the kernel-argument
 * cells (OpenCL copies an argument's value when it is set, so one cell serves every argument) and a
 * host staging buffer for the copies between Java arrays and buffers. Not thread-safe: its owner
 * serializes the calls.
 *
 * <p>Kernel launches and device copies are queued without waiting; reads and writes wait, so a read
 * sees every command queued before it, and a Java array may be reused as soon as a write returns.
 */
final class ClQueue implements AutoCloseable {
  /** Floats staged per host copy: 16 MiB, enough for a copy to run at the bus's pace. */
  static final int STAGING_FLOATS = 1 << 22;

  /** A cl_mem argument's size: a pointer's. */
  private static final long POINTER_BYTES = Loader.sizeof(Pointer.class);

  private final _cl_command_queue queue;
  private final PointerPointer<_cl_mem> memArg = new PointerPointer<>(1);
  private final FloatPointer floatArg = new FloatPointer(1);
  private final IntPointer intArg = new IntPointer(1);
  private final SizeTPointer globalSize = new SizeTPointer(1);
  private final SizeTPointer localSize = new SizeTPointer(1);
  private FloatPointer staging;

  ClQueue(_cl_command_queue queue) {
    this.queue = queue;
  }

  void memArg(_cl_kernel kernel, int index, _cl_mem mem, String name) {
    int status = mem == null
        ? clSetKernelArg(kernel, index, POINTER_BYTES, null)
        : clSetKernelArg(kernel, index, POINTER_BYTES, memArg.put(0, mem));
    ClStatus.check(status, "clSetKernelArg(" + name + ", " + index + ")");
  }

  void floatArg(_cl_kernel kernel, int index, float value, String name) {
    ClStatus.check(clSetKernelArg(kernel, index, 4, floatArg.put(0, value)),
        "clSetKernelArg(" + name + ", " + index + ")");
  }

  void intArg(_cl_kernel kernel, int index, int value, String name) {
    ClStatus.check(clSetKernelArg(kernel, index, 4, intArg.put(0, value)),
        "clSetKernelArg(" + name + ", " + index + ")");
  }

  /** Queues {@code global} work-items in work-groups of {@code local} ({@code global % local == 0}). */
  void launch(_cl_kernel kernel, long global, long local, String name) {
    globalSize.put(0, global);
    localSize.put(0, local);
    ClStatus.check(clEnqueueNDRangeKernel(queue, kernel, 1, null, globalSize, localSize, 0,
        (_cl_event) null, (_cl_event) null), "clEnqueueNDRangeKernel(" + name + ")");
  }

  /** {@code dst[dstFrom, dstFrom + n) = src[srcFrom, srcFrom + n)}, in float indices. */
  void write(float[] src, int srcFrom, _cl_mem dst, int dstFrom, int n) {
    FloatPointer stage = staging(n);
    for (int done = 0; done < n; ) {
      int len = (int) Math.min(n - done, stage.capacity());
      stage.put(src, srcFrom + done, len);
      ClStatus.check(clEnqueueWriteBuffer(queue, dst, CL_TRUE, 4L * (dstFrom + done), 4L * len, stage, 0,
          (_cl_event) null, (_cl_event) null), "clEnqueueWriteBuffer");
      done += len;
    }
  }

  /** {@code dst[dstFrom, dstFrom + n) = src[srcFrom, srcFrom + n)}, in float indices. */
  void read(_cl_mem src, int srcFrom, float[] dst, int dstFrom, int n) {
    FloatPointer stage = staging(n);
    for (int done = 0; done < n; ) {
      int len = (int) Math.min(n - done, stage.capacity());
      ClStatus.check(clEnqueueReadBuffer(queue, src, CL_TRUE, 4L * (srcFrom + done), 4L * len, stage, 0,
          (_cl_event) null, (_cl_event) null), "clEnqueueReadBuffer");
      stage.get(dst, dstFrom + done, len);
      done += len;
    }
  }

  /** Reads {@code n} doubles from the start of {@code src}. */
  void readDoubles(_cl_mem src, double[] dst, int n) {
    try (DoublePointer p = new DoublePointer(n)) {
      ClStatus.check(clEnqueueReadBuffer(queue, src, CL_TRUE, 0, 8L * n, p, 0, (_cl_event) null,
          (_cl_event) null), "clEnqueueReadBuffer");
      p.get(dst, 0, n);
    }
  }

  /** Reads {@code n} ints from the start of {@code src}. */
  void readInts(_cl_mem src, int[] dst, int n) {
    try (IntPointer p = new IntPointer(n)) {
      ClStatus.check(clEnqueueReadBuffer(queue, src, CL_TRUE, 0, 4L * n, p, 0, (_cl_event) null,
          (_cl_event) null), "clEnqueueReadBuffer");
      p.get(dst, 0, n);
    }
  }

  /** Queues a device copy of {@code bytes} bytes. */
  void copy(_cl_mem src, _cl_mem dst, long bytes) {
    ClStatus.check(clEnqueueCopyBuffer(queue, src, dst, 0, 0, bytes, 0, (_cl_event) null, (_cl_event) null),
        "clEnqueueCopyBuffer");
  }

  /** Waits for every queued command; returns its status (0, or the first failure). */
  int finish() {
    return clFinish(queue);
  }

  private FloatPointer staging(int n) {
    int want = Math.max(1, Math.min(n, STAGING_FLOATS));
    if (staging == null || staging.capacity() < want) {
      if (staging != null) {
        staging.close();
      }
      staging = new FloatPointer(want);
    }
    return staging;
  }

  @Override
  public void close() {
    clFinish(queue);
    clReleaseCommandQueue(queue);
    memArg.close();
    floatArg.close();
    intArg.close();
    globalSize.close();
    localSize.close();
    if (staging != null) {
      staging.close();
    }
  }
}
