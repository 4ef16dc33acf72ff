package dev.shardopt.device.cuda;

import dev.shardopt.engine.device.DeviceBackend;
import dev.shardopt.engine.device.DeviceBackendProvider;
import dev.shardopt.engine.device.DeviceUnavailableException;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.Loader;

/**
 * The {@code cuda} backend for {@link java.util.ServiceLoader}. Loading bytedeco's JNI library
 * ({@code jnicudart}, which links against the machine's {@code libcuda.so.1} and {@code
 * libcudart.so.13}) is the first thing open does, so that a machine without CUDA gets one line
 * saying what is missing instead of an UnsatisfiedLinkError.
 */
public final class CudaBackendProvider implements DeviceBackendProvider {
  private final CudaOptions options;

  /** For ServiceLoader: the options from system properties (see {@link CudaOptions}). */
  public CudaBackendProvider() {
    this(CudaOptions.fromSystemProperties());
  }

  CudaBackendProvider(CudaOptions options) {
    this.options = options;
  }

  @Override
  public String kind() {
    return "cuda";
  }

  @Override
  public DeviceBackend open(int index) {
    return openCuda(index);
  }

  /** {@link #open} with the concrete type, for the probe and the benchmark. */
  public CudaBackend openCuda(int index) {
    if (index < 0) {
      throw new DeviceUnavailableException("cuda: device index must be >= 0, got " + index);
    }
    loadNatives();
    return CudaBackend.open(index, options);
  }

  /**
   * Loads the JNI library, or throws with the one-line reason. A failed load leaves
   * {@code cudart}'s class uninitialized, so every later open fails the same way, with the same line.
   */
  static void loadNatives() {
    try {
      Loader.load(cudart.class);
    } catch (LinkageError e) {
      throw new DeviceUnavailableException("cuda: " + NativeLoadFailure.describe("jnicudart", e), e);
    }
  }
}
