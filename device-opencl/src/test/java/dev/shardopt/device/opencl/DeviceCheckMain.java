package dev.shardopt.device.opencl;

import static org.bytedeco.opencl.global.OpenCL.CL_DEVICE_DOUBLE_FP_CONFIG;
import static org.bytedeco.opencl.global.OpenCL.CL_DEVICE_SINGLE_FP_CONFIG;
import static org.bytedeco.opencl.global.OpenCL.CL_DEVICE_VERSION;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectPackage;

import java.io.PrintWriter;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.launcher.listeners.TestExecutionSummary;

/**
 * Runs this module's tests without Maven, on a machine that has only a Java runtime and an OpenCL
 * driver (scripts/opencl-device-check.sh bundles both with the class path): lists the devices,
 * runs every test against device 0, prints each failure's first line and "N passed, M failed".
 * Exits 1 when a test failed.
 */
public final class DeviceCheckMain {
  private DeviceCheckMain() {}

  public static void main(String[] args) {
    for (ClDevice d : ClPlatforms.devices()) {
      System.out.printf("device %s | %s | fp32 config 0x%x | fp64 config 0x%x%n", d.describe(),
          d.string(CL_DEVICE_VERSION), d.ulong(CL_DEVICE_SINGLE_FP_CONFIG), d.ulong(CL_DEVICE_DOUBLE_FP_CONFIG));
    }
    LauncherDiscoveryRequest request = LauncherDiscoveryRequestBuilder.request()
        .selectors(selectPackage(DeviceCheckMain.class.getPackageName())).build();
    SummaryGeneratingListener listener = new SummaryGeneratingListener();
    LauncherFactory.create().execute(request, listener);
    TestExecutionSummary s = listener.getSummary();
    PrintWriter out = new PrintWriter(System.out, true);
    s.getFailures().forEach(f -> out.println("FAILED " + f.getTestIdentifier().getLegacyReportingName()
        + ": " + String.valueOf(f.getException().getMessage()).lines().findFirst().orElse("")));
    out.println(s.getTestsSucceededCount() + " passed, " + s.getTestsFailedCount() + " failed, "
        + (s.getTestsSkippedCount() + s.getTestsAbortedCount()) + " skipped");
    System.exit(s.getTestsFailedCount() == 0 ? 0 : 1);
  }
}
