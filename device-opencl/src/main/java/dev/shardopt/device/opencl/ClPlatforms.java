package dev.shardopt.device.opencl;

import static org.bytedeco.opencl.global.OpenCL.CL_PLATFORM_NAME;
import static org.bytedeco.opencl.global.OpenCL.clGetDeviceIDs;
import static org.bytedeco.opencl.global.OpenCL.clGetPlatformIDs;
import static org.bytedeco.opencl.global.OpenCL.clGetPlatformInfo;

import dev.shardopt.engine.device.DeviceUnavailableException;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.PointerPointer;
import org.bytedeco.javacpp.SizeTPointer;
import org.bytedeco.opencl._cl_device_id;
import org.bytedeco.opencl._cl_platform_id;
import org.bytedeco.opencl.global.OpenCL;

/**
 * The OpenCL devices of this machine: every device of every platform the ICD loader reports, in
 * platform order then device order. A device's index in this list is its {@code --device-index}.
 */
final class ClPlatforms {
  /** CL_DEVICE_TYPE_ALL as the 32-bit mask cl.h defines (the binding's constant is a sign-extended int). */
  private static final long DEVICE_TYPE_ALL = 0xFFFFFFFFL;

  private ClPlatforms() {}

  /**
   * Loads the binding and the system's ICD loader.
   *
   * @throws DeviceUnavailableException when they do not load
   */
  static void load() {
    try {
      Loader.load(OpenCL.class);
    } catch (LinkageError | RuntimeException e) {
      throw new DeviceUnavailableException(
          "opencl: the OpenCL binding does not load here (" + oneLine(e) + "); it needs the "
              + "org.bytedeco:opencl linux-x86_64 natives on the class path, on x86-64 Linux", e);
    }
  }

  /**
   * Every device, in index order.
   *
   * @throws DeviceUnavailableException when there is no platform or no device at all
   */
  static List<ClDevice> devices() {
    load();
    int[] count = new int[1];
    int status = clGetPlatformIDs(0, (PointerPointer<?>) null, count);
    if (status == ClStatus.CL_PLATFORM_NOT_FOUND_KHR || (status == 0 && count[0] == 0)) {
      throw new DeviceUnavailableException("opencl: no OpenCL platform is installed (the ICD loader "
          + "found no driver; e.g. install Debian's pocl-opencl-icd)");
    }
    if (status != 0) {
      throw new DeviceUnavailableException(
          "opencl: clGetPlatformIDs failed: " + ClStatus.name(status));
    }
    List<ClDevice> devices = new ArrayList<>();
    try (PointerPointer<_cl_platform_id> platforms = new PointerPointer<>(count[0])) {
      ClStatus.check(clGetPlatformIDs(count[0], platforms, (int[]) null), "clGetPlatformIDs");
      for (int p = 0; p < count[0]; p++) {
        _cl_platform_id platform = platforms.get(_cl_platform_id.class, p);
        String platformName = platformName(platform);
        int[] n = new int[1];
        int st = clGetDeviceIDs(platform, DEVICE_TYPE_ALL, 0, (PointerPointer<?>) null, n);
        if (st == OpenCL.CL_DEVICE_NOT_FOUND || n[0] == 0) {
          continue;
        }
        ClStatus.check(st, "clGetDeviceIDs");
        try (PointerPointer<_cl_device_id> ids = new PointerPointer<>(n[0])) {
          ClStatus.check(clGetDeviceIDs(platform, DEVICE_TYPE_ALL, n[0], ids, (int[]) null), "clGetDeviceIDs");
          for (int d = 0; d < n[0]; d++) {
            devices.add(new ClDevice(devices.size(), platform, platformName, ids.get(_cl_device_id.class, d)));
          }
        }
      }
    }
    if (devices.isEmpty()) {
      throw new DeviceUnavailableException(
          "opencl: the OpenCL platforms here (" + count[0] + ") have no device");
    }
    return devices;
  }

  private static String platformName(_cl_platform_id platform) {
    try (SizeTPointer size = new SizeTPointer(1)) {
      ClStatus.check(clGetPlatformInfo(platform, CL_PLATFORM_NAME, 0, null, size), "clGetPlatformInfo");
      try (BytePointer text = new BytePointer(size.get())) {
        ClStatus.check(clGetPlatformInfo(platform, CL_PLATFORM_NAME, size.get(), text, null),
            "clGetPlatformInfo");
        return text.getString().trim();
      }
    }
  }

  /** The first line of a throwable's message (with its class when it has none). */
  static String oneLine(Throwable e) {
    String m = e.getMessage();
    if (m == null || m.isBlank()) {
      return e.getClass().getSimpleName();
    }
    int nl = m.indexOf('\n');
    return nl < 0 ? m : m.substring(0, nl);
  }
}
