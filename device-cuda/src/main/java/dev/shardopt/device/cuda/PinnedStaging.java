package dev.shardopt.device.cuda;

import static org.bytedeco.cuda.global.cudart.cudaEventCreate;
import static org.bytedeco.cuda.global.cudart.cudaEventDestroy;
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
 * Two pinned (page-locked) host buffers through which every upload and download goes, so that the
 * DMA engine copies at full speed and the Java-side copy of one chunk (on several threads, {@link
 * HostCopier}) overlaps the DMA of the other: chunk k goes through buffer k % 2, and an event per
 * buffer says when its DMA is done. Used only on the backend's thread.
 */
final class PinnedStaging implements AutoCloseable {
  /** Floats per buffer: 16 MiB, large enough that the per-chunk overhead is small. */
  static final int CHUNK_FLOATS = 4 << 20;

  private final Pointer[] raw = new Pointer[2];
  private final HostCopier copier;
  private final CUevent_st[] done = new CUevent_st[2];
  private final boolean[] pending = new boolean[2];

  PinnedStaging(HostCopier copier) {
    this.copier = copier;
    try {
      for (int b = 0; b < 2; b++) {
        Pointer p = new Pointer();
        CudaErrors.check(cudaMallocHost(p, 4L * CHUNK_FLOATS), "cudaMallocHost(" + 4L * CHUNK_FLOATS + " bytes)");
        raw[b] = p;
        CUevent_st e = new CUevent_st();
        CudaErrors.check(cudaEventCreate(e), "cudaEventCreate");
        done[b] = e;
      }
    } catch (RuntimeException e) {
      close();
      throw e;
    }
  }

  int copyThreads() {
    return copier.threads();
  }

  /** Address of buffer 0, for small transfers that need one buffer only (the reduction's results). */
  long scratchAddress() {
    return raw[0].address();
  }

  /** {@code device[0, n) = src[from, from + n)}, through the buffers; returns when the copy is done. */
  void upload(float[] src, int from, long deviceAddress, int n) {
    int chunks = chunks(n);
    for (int k = 0; k < chunks; k++) {
      int b = k & 1;
      int off = k * CHUNK_FLOATS;
      int len = Math.min(CHUNK_FLOATS, n - off);
      awaitBuffer(b);
      copier.toPinned(src, from + off, raw[b].address(), len);
      CudaErrors.check(cudaMemcpyAsync(new DevicePointer(deviceAddress + 4L * off), raw[b], 4L * len,
          cudaMemcpyHostToDevice, (CUstream_st) null), "cudaMemcpyAsync(host to device, " + 4L * len + " bytes)");
      record(b);
    }
    awaitBuffer(0);
    awaitBuffer(1);
  }

  /** {@code dst[from, from + n) = device[0, n)}, through the buffers, the next chunk's DMA in flight. */
  void download(long deviceAddress, float[] dst, int from, int n) {
    int chunks = chunks(n);
    if (chunks > 0) {
      issueDownload(deviceAddress, n, 0);
    }
    for (int k = 0; k < chunks; k++) {
      if (k + 1 < chunks) {
        issueDownload(deviceAddress, n, k + 1);
      }
      int b = k & 1;
      int off = k * CHUNK_FLOATS;
      int len = Math.min(CHUNK_FLOATS, n - off);
      awaitBuffer(b);
      copier.fromPinned(raw[b].address(), dst, from + off, len);
    }
  }

  private void issueDownload(long deviceAddress, int n, int k) {
    int b = k & 1;
    int off = k * CHUNK_FLOATS;
    int len = Math.min(CHUNK_FLOATS, n - off);
    awaitBuffer(b);
    CudaErrors.check(cudaMemcpyAsync(raw[b], new DevicePointer(deviceAddress + 4L * off), 4L * len,
        cudaMemcpyDeviceToHost, (CUstream_st) null), "cudaMemcpyAsync(device to host, " + 4L * len + " bytes)");
    record(b);
  }

  private static int chunks(int n) {
    return (int) (((long) n + CHUNK_FLOATS - 1) / CHUNK_FLOATS);
  }

  private void record(int b) {
    CudaErrors.check(cudaEventRecord(done[b], (CUstream_st) null), "cudaEventRecord");
    pending[b] = true;
  }

  private void awaitBuffer(int b) {
    if (pending[b]) {
      pending[b] = false;
      CudaErrors.check(cudaEventSynchronize(done[b]), "cudaEventSynchronize (staging copy)");
    }
  }

  @Override
  public void close() {
    copier.close();
    for (int b = 0; b < 2; b++) {
      if (done[b] != null) {
        cudaEventDestroy(done[b]);
        done[b] = null;
      }
      if (raw[b] != null) {
        cudaFreeHost(raw[b]);
        raw[b] = null;
      }
    }
  }
}
