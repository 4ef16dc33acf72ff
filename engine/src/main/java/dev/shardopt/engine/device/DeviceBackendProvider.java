package dev.shardopt.engine.device;

/**
 * Opens an accelerator backend; found with {@link java.util.ServiceLoader}, so that the engine
 * depends on no native library. The {@code opencl} and {@code cuda} modules each register one.
 */
public interface DeviceBackendProvider {

  /** {@code "opencl"} or {@code "cuda"}. */
  String kind();

  /**
   * Opens device {@code index} of this kind.
   *
   * @throws DeviceUnavailableException with one line saying why (no driver, no device, …)
   */
  DeviceBackend open(int index);
}
