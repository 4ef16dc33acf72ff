package dev.shardopt.device.opencl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.shardopt.engine.device.DeviceBackend;
import dev.shardopt.engine.device.DeviceBackendProvider;
import dev.shardopt.engine.device.DeviceUnavailableException;
import java.util.List;
import java.util.ServiceLoader;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** Finding the backend through ServiceLoader, and open()'s one-line failures. */
class OpenAndProviderTest {

  private static DeviceBackendProvider provider() {
    List<DeviceBackendProvider> found = ServiceLoader.load(DeviceBackendProvider.class).stream()
        .map(ServiceLoader.Provider::get).collect(Collectors.toList());
    assertEquals(1, found.size(), "providers on this module's class path: " + found);
    return found.get(0);
  }

  @Test
  void serviceLoaderFindsTheOpenClProvider() {
    DeviceBackendProvider p = provider();
    assertEquals("opencl", p.kind());
    assertThat(p).isInstanceOf(OpenClBackendProvider.class);
  }

  @Test
  void theProviderOpensDeviceZero() {
    OpenClDevices.requirePlatform();
    try (DeviceBackend b = provider().open(0)) {
      assertEquals("opencl", b.kind());
      assertEquals(ClPlatforms.devices().get(0).name(), b.info().name());
      assertThat(b.info().totalBytes()).isPositive();
      assertEquals(b.info().totalBytes(), b.info().freeBytes());
    }
  }

  @Test
  void aDeviceIndexThatDoesNotExistIsOneLineNamingTheDevices() {
    OpenClDevices.requirePlatform();
    int count = ClPlatforms.devices().size();
    for (int index : new int[] {count, 99, -1}) {
      DeviceUnavailableException e =
          assertThrows(DeviceUnavailableException.class, () -> provider().open(index));
      assertThat(e.getMessage())
          .startsWith("opencl: no device at index " + index + "; the devices here are [0] ")
          .doesNotContain("\n");
    }
  }

  @Test
  void kernelsThatDoNotCompileAreOneLineQuotingTheBuildLog() {
    OpenClDevices.requirePlatform();
    String broken = "__kernel void k(__global float* x) {\n  x[0] = undeclared_name;\n}\n";
    DeviceUnavailableException e = assertThrows(DeviceUnavailableException.class,
        () -> OpenClBackend.open(0, Long.MAX_VALUE,
            (context, device) -> ClProgram.build(context, device, broken, List.of("k"))));
    assertThat(e.getMessage())
        .startsWith("opencl: the kernels do not compile on device [0] ")
        .contains("CL_BUILD_PROGRAM_FAILURE")
        .contains("undeclared_name")
        .doesNotContain("\n");
  }
}
