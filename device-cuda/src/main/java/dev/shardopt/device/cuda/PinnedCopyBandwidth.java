package dev.shardopt.device.cuda;

import static org.bytedeco.cuda.global.cudart.cudaEventCreate;
import static org.bytedeco.cuda.global.cudart.cudaEventDestroy;
import static org.bytedeco.cuda.global.cudart.cudaEventElapsedTime;
import static org.bytedeco.cuda.global.cudart.cudaEventRecord;
import static org.bytedeco.cuda.global.cudart.cudaEventSynchronize;
import static org.bytedeco.cuda.global.cudart.cudaFreeHost;
import static org.bytedeco.cuda.global.cudart.cudaMallocHost;
import static org.bytedeco.cuda.global.cudart.cudaMemcpyAsync;
import static org.bytedeco.cuda.global.cudart.cudaMemcpyDeviceToHost;
import static org.bytedeco.cuda.global.cudart.cudaMemcpyHostToDevice;

import org.bytedeco.cuda.cudart.CUevent_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.Pointer;

/**
 * The host-device copy bandwidth of the machine, for the worker-step bound: one pinned buffer of
 * the array's size, copied to and from a device array by the DMA engine, timed by CUDA events.
 * What the backend's own upload and download add on top (the Java-side copy into pinned memory)
 * is exactly what the bound leaves out.
 */
final class PinnedCopyBandwidth {
  private PinnedCopyBandwidth() {}

  /** {host-to-device, device-to-host} in bytes per second, each the best of {@code repeats}. */
  static double[] measure(CudaBackend backend, CudaArray device, int repeats) {
    return backend.onDeviceThread(() -> {
      long bytes = device.bytes();
      Pointer host = new Pointer();
      CudaErrors.check(cudaMallocHost(host, bytes), "cudaMallocHost(" + bytes + " bytes)");
      CUevent_st start = new CUevent_st();
      CUevent_st stop = new CUevent_st();
      CudaErrors.check(cudaEventCreate(start), "cudaEventCreate");
      CudaErrors.check(cudaEventCreate(stop), "cudaEventCreate");
      try {
        double up = 0;
        double down = 0;
        DevicePointer d = new DevicePointer(device.address(0));
        for (int r = 0; r < repeats; r++) {
          up = Math.max(up, bytes / seconds(start, stop, () -> CudaErrors.check(
              cudaMemcpyAsync(d, host, bytes, cudaMemcpyHostToDevice, (CUstream_st) null), "cudaMemcpyAsync")));
          down = Math.max(down, bytes / seconds(start, stop, () -> CudaErrors.check(
              cudaMemcpyAsync(host, d, bytes, cudaMemcpyDeviceToHost, (CUstream_st) null), "cudaMemcpyAsync")));
        }
        return new double[] {up, down};
      } finally {
        cudaEventDestroy(start);
        cudaEventDestroy(stop);
        cudaFreeHost(host);
      }
    });
  }

  private static double seconds(CUevent_st start, CUevent_st stop, Runnable copy) {
    CudaErrors.check(cudaEventRecord(start, (CUstream_st) null), "cudaEventRecord");
    copy.run();
    CudaErrors.check(cudaEventRecord(stop, (CUstream_st) null), "cudaEventRecord");
    CudaErrors.check(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float[] ms = new float[1];
    CudaErrors.check(cudaEventElapsedTime(ms, start, stop), "cudaEventElapsedTime");
    return ms[0] / 1e3;
  }
}
