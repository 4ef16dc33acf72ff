package dev.shardopt.device.opencl;

import dev.shardopt.engine.device.DeviceArray;
import org.bytedeco.opencl._cl_mem;

/** An fp32 array in an OpenCL buffer. An empty array has no buffer (OpenCL has no empty buffers). */
final class ClBuffer implements DeviceArray {
  private final OpenClBackend owner;
  private final int length;
  private _cl_mem mem;
  private boolean released;

  ClBuffer(OpenClBackend owner, int length, _cl_mem mem) {
    this.owner = owner;
    this.length = length;
    this.mem = mem;
  }

  @Override
  public int length() {
    return length;
  }

  OpenClBackend owner() {
    return owner;
  }

  long bytes() {
    return 4L * length;
  }

  boolean released() {
    return released;
  }

  /** The buffer, null for an empty array. */
  _cl_mem mem() {
    if (released) {
      throw new IllegalStateException("opencl array of " + length + " floats used after release");
    }
    return mem;
  }

  /** Marks this released and hands back its buffer (null if empty) for the caller to free. */
  _cl_mem release() {
    _cl_mem m = mem;
    mem = null;
    released = true;
    return m;
  }

  @Override
  public String toString() {
    return "ClBuffer(" + length + " floats" + (released ? ", released" : "") + ")";
  }
}
