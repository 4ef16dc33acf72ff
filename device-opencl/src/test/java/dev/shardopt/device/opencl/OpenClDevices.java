package dev.shardopt.device.opencl;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.shardopt.engine.device.DeviceUnavailableException;

/** Opens the test device, or skips the test when this machine has no OpenCL platform at all. */
final class OpenClDevices {
  private OpenClDevices() {}

  /** Skips (and says why) when the ICD loader or any platform is missing; anything else fails. */
  static void requirePlatform() {
    try {
      ClPlatforms.devices();
    } catch (DeviceUnavailableException e) {
      System.out.println("SKIPPED OpenCL tests: " + e.getMessage());
      assumeTrue(false, e.getMessage());
    }
  }

  /** Device 0, with all its memory. */
  static OpenClBackend open() {
    requirePlatform();
    return OpenClBackend.open(0);
  }
}
