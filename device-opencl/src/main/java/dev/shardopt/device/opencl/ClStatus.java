package dev.shardopt.device.opencl;

import java.util.Map;

/** OpenCL status codes: their names, and the check every call's result goes through. */
final class ClStatus {
  private ClStatus() {}

  /** The codes a user may meet, by name (cl.h); others print as their number. */
  private static final Map<Integer, String> NAMES = Map.ofEntries(
      Map.entry(0, "CL_SUCCESS"),
      Map.entry(-1, "CL_DEVICE_NOT_FOUND"),
      Map.entry(-2, "CL_DEVICE_NOT_AVAILABLE"),
      Map.entry(-3, "CL_COMPILER_NOT_AVAILABLE"),
      Map.entry(-4, "CL_MEM_OBJECT_ALLOCATION_FAILURE"),
      Map.entry(-5, "CL_OUT_OF_RESOURCES"),
      Map.entry(-6, "CL_OUT_OF_HOST_MEMORY"),
      Map.entry(-11, "CL_BUILD_PROGRAM_FAILURE"),
      Map.entry(-30, "CL_INVALID_VALUE"),
      Map.entry(-31, "CL_INVALID_DEVICE_TYPE"),
      Map.entry(-32, "CL_INVALID_PLATFORM"),
      Map.entry(-33, "CL_INVALID_DEVICE"),
      Map.entry(-34, "CL_INVALID_CONTEXT"),
      Map.entry(-36, "CL_INVALID_COMMAND_QUEUE"),
      Map.entry(-38, "CL_INVALID_MEM_OBJECT"),
      Map.entry(-43, "CL_INVALID_BUILD_OPTIONS"),
      Map.entry(-44, "CL_INVALID_PROGRAM"),
      Map.entry(-45, "CL_INVALID_PROGRAM_EXECUTABLE"),
      Map.entry(-46, "CL_INVALID_KERNEL_NAME"),
      Map.entry(-48, "CL_INVALID_KERNEL"),
      Map.entry(-49, "CL_INVALID_ARG_INDEX"),
      Map.entry(-50, "CL_INVALID_ARG_VALUE"),
      Map.entry(-51, "CL_INVALID_ARG_SIZE"),
      Map.entry(-52, "CL_INVALID_KERNEL_ARGS"),
      Map.entry(-53, "CL_INVALID_WORK_DIMENSION"),
      Map.entry(-54, "CL_INVALID_WORK_GROUP_SIZE"),
      Map.entry(-55, "CL_INVALID_WORK_ITEM_SIZE"),
      Map.entry(-56, "CL_INVALID_GLOBAL_OFFSET"),
      Map.entry(-61, "CL_INVALID_BUFFER_SIZE"),
      Map.entry(-63, "CL_INVALID_GLOBAL_WORK_SIZE"),
      Map.entry(-1001, "CL_PLATFORM_NOT_FOUND_KHR"));

  static final int CL_PLATFORM_NOT_FOUND_KHR = -1001;

  /** {@code "CL_OUT_OF_RESOURCES (-5)"}. */
  static String name(int code) {
    String n = NAMES.get(code);
    return n == null ? "OpenCL error " + code : n + " (" + code + ")";
  }

  /** Whether {@code code} says the device (or the host on its behalf) ran out of memory. */
  static boolean outOfMemory(int code) {
    return code == -4 || code == -5 || code == -6;
  }

  /**
   * Throws when {@code code} is not CL_SUCCESS.
   *
   * @throws IllegalStateException naming the call and the status
   */
  static void check(int code, String call) {
    if (code != 0) {
      throw new IllegalStateException("OpenCL " + call + " failed: " + name(code));
    }
  }
}
