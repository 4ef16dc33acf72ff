package dev.shardopt.embedded;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.shardopt.engine.device.DeviceBackend;
import dev.shardopt.engine.device.DeviceUnavailableException;
import dev.shardopt.engine.device.Devices;
import dev.shardopt.engine.kernel.ParallelApply;
import java.util.concurrent.ForkJoinPool;

/**
 * The opencl backend of this build on this machine (PoCL in CI). A test that needs it skips, saying
 * why, only where the machine has no OpenCL platform at all (as the device-opencl module's tests
 * do); any other failure to open it fails the test. Shared with cli's and cli-train's tests through
 * this module's test jar.
 */
public final class OpenClHere {
  private OpenClHere() {}

  /** Opens opencl device 0 once and returns its name, or skips the calling test where there is no platform. */
  public static String deviceName() {
    try (DeviceBackend b = Devices.installed().open("opencl", 0, new ParallelApply(ForkJoinPool.commonPool(), 1),
        line -> {})) {
      return b.info().name();
    } catch (DeviceUnavailableException e) {
      if (e.getMessage().contains("no OpenCL platform is installed")) {
        System.out.println("SKIPPED OpenCL tests: " + e.getMessage());
        assumeTrue(false, e.getMessage());
      }
      throw e;
    }
  }
}
