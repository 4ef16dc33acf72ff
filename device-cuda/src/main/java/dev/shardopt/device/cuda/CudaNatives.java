package dev.shardopt.device.cuda;

import dev.shardopt.engine.device.DeviceUnavailableException;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.cuda.global.nvrtc;
import org.bytedeco.javacpp.Loader;

/**
 * Loads bytedeco's JNI libraries for the CUDA runtime ({@code jnicudart}, linked against the
 * machine's {@code libcuda.so.1} and {@code libcudart.so.13}) and for NVRTC ({@code jninvrtc},
 * against {@code libnvrtc.so.13}), or says in one line what is missing.
 *
 * <p>A failed load leaves the binding class in the erroneous state for the life of the JVM, and the
 * later errors ({@code NoClassDefFoundError: Could not initialize class}) no longer carry the dynamic
 * linker's message. So the first description is kept, in a static field: as JVM-wide as the state it
 * describes, and every later attempt reports the same line.
 */
final class CudaNatives {
  private static volatile String cudartFailure;
  private static volatile String nvrtcFailure;

  private CudaNatives() {}

  /** @throws DeviceUnavailableException "cuda: " and the reason */
  static void loadCudart() {
    try {
      Loader.load(cudart.class);
    } catch (LinkageError e) {
      String reason = cudartFailure;
      if (reason == null) {
        reason = NativeLoadFailure.describe("jnicudart", e);
        cudartFailure = reason;
      }
      throw new DeviceUnavailableException("cuda: " + reason, e);
    }
  }

  /**
   * Loads NVRTC (after the runtime, whose links it inherits).
   *
   * @throws KernelCompiler.Unavailable with the reason
   */
  static void loadNvrtc() {
    try {
      loadCudart();
    } catch (DeviceUnavailableException e) {
      throw new KernelCompiler.Unavailable(e.getMessage().substring("cuda: ".length()));
    }
    try {
      Loader.load(nvrtc.class);
    } catch (LinkageError e) {
      String reason = nvrtcFailure;
      if (reason == null) {
        reason = NativeLoadFailure.describe("jninvrtc", e);
        nvrtcFailure = reason;
      }
      throw new KernelCompiler.Unavailable(reason);
    }
  }
}
