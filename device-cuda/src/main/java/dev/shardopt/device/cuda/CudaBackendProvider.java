package dev.shardopt.device.cuda;

import dev.shardopt.engine.device.DeviceBackend;
import dev.shardopt.engine.device.DeviceBackendProvider;
import dev.shardopt.engine.device.DeviceUnavailableException;

/**
 * The {@code cuda} backend for {@link java.util.ServiceLoader}. Loading bytedeco's JNI library
 * ({@link CudaNatives}) is the first thing open does, so that a machine without CUDA gets one line
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
    CudaNatives.loadCudart();
    return CudaBackend.open(index, options);
  }
}
