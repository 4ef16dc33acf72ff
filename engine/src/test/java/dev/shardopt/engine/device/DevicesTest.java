package dev.shardopt.engine.device;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.shardopt.engine.kernel.ParallelApply;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ForkJoinPool;
import org.junit.jupiter.api.Test;

/**
 * Device selection through ServiceLoader, with the fake providers of the test resources: an OpenCL
 * platform with one device, a CUDA whose JNI library does not load, and a provider that fails to
 * load at all.
 */
class DevicesTest {
  private final ParallelApply parallel = new ParallelApply(ForkJoinPool.commonPool(), 1);
  private final List<String> log = new ArrayList<>();
  private static final String NO_CUDA =
      "UnsatisfiedLinkError: no jnicudart in java.library.path: /usr/java/packages/lib";

  @Test
  void theServiceLoaderFindsTheRegisteredProvidersAndReportsTheOneThatFailedToLoad() {
    Devices installed = Devices.installed();
    assertThat(installed.providedKinds()).containsExactly("cuda", "opencl");
    assertThat(installed.brokenProviders()).singleElement().asString()
        .contains("FakeProviders$Broken").contains("broken on purpose").doesNotContain("\n");
  }

  @Test
  void explicitKindsOpenTheirBackendOrFailWithOneLine() {
    Devices installed = Devices.installed();
    DeviceBackend opencl = installed.open("opencl", 0, parallel, log::add);
    assertThat(opencl.kind()).isEqualTo("opencl");
    assertThat(opencl.info().name()).isEqualTo("Fake OpenCL device");
    assertThat(installed.open("cpu", 0, parallel, log::add)).isInstanceOf(CpuBackend.class);
    assertThatThrownBy(() -> installed.open("cuda", 0, parallel, log::add))
        .isInstanceOf(DeviceUnavailableException.class)
        .hasMessage("device cuda 0 is unavailable: " + NO_CUDA);
    assertThatThrownBy(() -> installed.open("opencl", 1, parallel, log::add))
        .isInstanceOf(DeviceUnavailableException.class)
        .hasMessage("device opencl 1 is unavailable: no OpenCL device 1: the platform has 1 (index 0)");
    assertThat(log).isEmpty(); // only auto says what it chose
  }

  @Test
  void autoTakesCudaThenOpenclThenCpuAndSaysWhyInOneLine() {
    Devices installed = Devices.installed();
    DeviceBackend chosen = installed.open("auto", 0, parallel, log::add);
    assertThat(chosen.kind()).isEqualTo("opencl");
    assertThat(log).containsExactly("device auto: chose opencl 0 \"Fake OpenCL device\" (cuda: " + NO_CUDA + ")");

    log.clear();
    assertThat(installed.open("auto", 1, parallel, log::add)).isInstanceOf(CpuBackend.class);
    assertThat(log).containsExactly("device auto: chose cpu (cuda: " + NO_CUDA
        + "; opencl: no OpenCL device 1: the platform has 1 (index 0))");
  }

  @Test
  void aKindWithoutAProviderIsUnavailableNamingItsModule() {
    Devices none = new Devices(List.of());
    assertThatThrownBy(() -> none.open("opencl", 0, parallel, log::add))
        .isInstanceOf(DeviceUnavailableException.class)
        .hasMessage("device opencl 0 is unavailable: not in this build (no shardopt-device-opencl on the class path)");
    assertThat(none.open("auto", 0, parallel, log::add)).isInstanceOf(CpuBackend.class);
    assertThat(log).containsExactly("device auto: chose cpu (cuda: not in this build (no shardopt-device-cuda on the "
        + "class path); opencl: not in this build (no shardopt-device-opencl on the class path))");

    Devices withBroken = new Devices(List.of(), List.of("java.util.ServiceConfigurationError: x.Provider could not be instantiated"));
    assertThatThrownBy(() -> withBroken.open("cuda", 0, parallel, log::add))
        .hasMessage("device cuda 0 is unavailable: not in this build (no shardopt-device-cuda on the class path); "
            + "providers that failed to load: java.util.ServiceConfigurationError: x.Provider could not be instantiated");
  }

  @Test
  void badSelectionsNameTheFieldTheValueAndWhatIsAllowed() {
    Devices none = new Devices(List.of());
    assertThatThrownBy(() -> none.open("gpu", 0, parallel, log::add))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("device 'gpu' is unknown; use one of cpu, opencl, cuda, auto");
    assertThatThrownBy(() -> none.open("opencl", -1, parallel, log::add))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("device index must be >= 0, got -1");
    assertThatThrownBy(() -> none.open("cpu", 2, parallel, log::add))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("device index 2 with device cpu: the cpu backend has one device, 0");
    assertThatThrownBy(() -> DeviceSelection.cpu().withMemoryLimit(-5))
        .hasMessage("device memory limit must be >= 0 bytes (0 for none), got -5");
  }

  @Test
  void aMemoryLimitWrapsTheOpenedBackend() {
    DeviceBackend b = new Devices(List.of()).open(DeviceSelection.cpu().withMemoryLimit(4096), parallel, log::add);
    assertThat(b).isInstanceOfSatisfying(MemoryLimitedBackend.class, m -> {
      assertThat(m.limitBytes()).isEqualTo(4096);
      assertThat(m.inner()).isInstanceOf(CpuBackend.class);
    });
    assertThat(b.info().totalBytes()).isEqualTo(4096);
    b.allocate(1024);
    assertThatThrownBy(() -> b.allocate(1))
        .isInstanceOfSatisfying(DeviceMemoryException.class, e -> {
          assertThat(e.requestedBytes()).isEqualTo(4);
          assertThat(e.freeBytes()).isZero();
        })
        .hasMessage("the device memory limit of 4096 bytes has 0 bytes free, 4 asked");
    assertThat(new Devices(List.of()).open(DeviceSelection.cpu(), parallel, log::add)).isInstanceOf(CpuBackend.class);
  }
}
