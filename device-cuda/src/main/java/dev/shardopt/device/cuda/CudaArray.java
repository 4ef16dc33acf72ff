package dev.shardopt.device.cuda;

import dev.shardopt.engine.device.DeviceArray;

/** fp32 array in CUDA device memory: its address, read and freed only by its backend's thread. */
final class CudaArray implements DeviceArray {
  private final CudaBackend owner;
  private final int length;
  private volatile long address;
  private volatile boolean released;

  CudaArray(CudaBackend owner, long address, int length) {
    this.owner = owner;
    this.address = address;
    this.length = length;
  }

  @Override
  public int length() {
    return length;
  }

  CudaBackend owner() {
    return owner;
  }

  boolean released() {
    return released;
  }

  /** Device address of element {@code index}. */
  long address(long index) {
    if (released) {
      throw new IllegalStateException("cuda array of " + length + " floats used after release");
    }
    return address + 4L * index;
  }

  long bytes() {
    return 4L * length;
  }

  /** Marks it freed and returns the address to free (0 if already freed). */
  long markReleased() {
    if (released) {
      return 0L;
    }
    released = true;
    long a = address;
    address = 0L;
    return a;
  }

  @Override
  public String toString() {
    return "CudaArray[" + length + " floats" + (released ? ", released]" : "]");
  }
}
