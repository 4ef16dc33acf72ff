package dev.shardopt.device.cuda;

import static org.bytedeco.cuda.global.cudart.CUDA_SUCCESS;
import static org.bytedeco.cuda.global.cudart.cuGetErrorName;
import static org.bytedeco.cuda.global.cudart.cuGetErrorString;
import static org.bytedeco.cuda.global.cudart.cudaGetErrorName;
import static org.bytedeco.cuda.global.cudart.cudaGetErrorString;
import static org.bytedeco.cuda.global.cudart.cudaSuccess;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.PointerPointer;

/**
 * Checks the status codes of the runtime API (cudaError_t) and of the driver API (CUresult). Only
 * used once the bindings have loaded.
 */
final class CudaErrors {
  private CudaErrors() {}

  /** Throws {@link CudaCallException} unless {@code status} is cudaSuccess. */
  static void check(int status, String call) {
    if (status != cudaSuccess) {
      throw new CudaCallException(call, status, runtimeName(status), runtimeText(status));
    }
  }

  /** Throws {@link CudaCallException} unless {@code status} is CUDA_SUCCESS. */
  static void checkDriver(int status, String call) {
    if (status != CUDA_SUCCESS) {
      throw new CudaCallException(call, status, driverString(status, true), driverString(status, false));
    }
  }

  /** The CUresult's name, e.g. "CUDA_ERROR_INVALID_VALUE (1)". */
  static String driverName(int status) {
    return driverString(status, true) + " (" + status + ")";
  }

  static String runtimeName(int status) {
    BytePointer p = cudaGetErrorName(status);
    return p == null || p.isNull() ? "cudaError " + status : p.getString();
  }

  static String runtimeText(int status) {
    BytePointer p = cudaGetErrorString(status);
    return p == null || p.isNull() ? "unknown error" : p.getString();
  }

  /** cuGetErrorName / cuGetErrorString write a static string's address into a {@code const char**}. */
  private static String driverString(int status, boolean name) {
    try (PointerPointer<BytePointer> out = new PointerPointer<>(1)) {
      int rc = name ? cuGetErrorName(status, out) : cuGetErrorString(status, out);
      if (rc != CUDA_SUCCESS) {
        return name ? "CUresult " + status : "unknown error";
      }
      return out.getString(0);
    }
  }
}
