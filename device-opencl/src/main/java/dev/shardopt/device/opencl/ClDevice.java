package dev.shardopt.device.opencl;

import static org.bytedeco.opencl.global.OpenCL.clGetDeviceInfo;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.SizeTPointer;
import org.bytedeco.opencl._cl_device_id;
import org.bytedeco.opencl._cl_platform_id;

/**
 * One OpenCL device, with the platform it belongs to, and reads of its properties.
 *
 * @param index the device's place in {@link ClPlatforms#devices()}: what {@code --device-index} names
 */
record ClDevice(int index, _cl_platform_id platform, String platformName, _cl_device_id id) {

  String name() {
    return string(org.bytedeco.opencl.global.OpenCL.CL_DEVICE_NAME);
  }

  /** A device property of type {@code char[]}. */
  String string(int param) {
    try (SizeTPointer size = new SizeTPointer(1)) {
      ClStatus.check(clGetDeviceInfo(id, param, 0, null, size), "clGetDeviceInfo(" + param + ")");
      try (BytePointer text = new BytePointer(size.get())) {
        ClStatus.check(clGetDeviceInfo(id, param, size.get(), text, null), "clGetDeviceInfo(" + param + ")");
        return text.getString().trim();
      }
    }
  }

  /** A device property of type {@code cl_ulong} or {@code cl_bitfield}. */
  long ulong(int param) {
    try (LongPointer v = new LongPointer(1)) {
      ClStatus.check(clGetDeviceInfo(id, param, 8, v, null), "clGetDeviceInfo(" + param + ")");
      return v.get();
    }
  }

  /** A device property of type {@code size_t}. */
  long sizeT(int param) {
    try (SizeTPointer v = new SizeTPointer(1)) {
      ClStatus.check(
          clGetDeviceInfo(id, param, Loader.sizeof(SizeTPointer.class), v, null), "clGetDeviceInfo(" + param + ")");
      return v.get();
    }
  }

  /** {@code "[0] pthread-… (Portable Computing Language)"}, for messages. */
  String describe() {
    return "[" + index + "] " + name() + " (" + platformName + ")";
  }
}
