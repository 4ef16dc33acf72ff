package dev.shardopt.device.cuda;

import org.bytedeco.javacpp.Pointer;

/**
 * A raw address (device memory, or an offset into pinned host memory) as a javacpp {@link Pointer}
 * argument. Offsets are computed here in bytes and passed with position 0, so that no javacpp call
 * has to scale a position by an element size.
 */
final class DevicePointer extends Pointer {
  DevicePointer(long address) {
    this.address = address;
  }
}
