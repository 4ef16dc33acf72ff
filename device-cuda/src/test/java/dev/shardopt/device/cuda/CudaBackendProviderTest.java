package dev.shardopt.device.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import dev.shardopt.engine.device.DeviceBackendProvider;
import dev.shardopt.engine.device.DeviceUnavailableException;
import java.util.ServiceLoader;
import java.util.stream.Collectors;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.Test;

/** {@code --device cuda} on a machine without CUDA: one clear line, from the provider ServiceLoader finds. */
class CudaBackendProviderTest {

  @Test
  void serviceLoaderFindsTheCudaProvider() {
    var kinds = StreamSupport.stream(ServiceLoader.load(DeviceBackendProvider.class).spliterator(), false)
        .map(DeviceBackendProvider::kind).collect(Collectors.toList());
    assertThat(kinds).contains("cuda");
  }

  @Test
  void withoutAnNvidiaDriverOpenFailsWithOneLineNamingTheMissingLibrary() {
    assumeFalse(CudaAvailability.driver(), "this machine has libcuda.so.1");
    DeviceBackendProvider provider = new CudaBackendProvider();
    for (int attempt = 0; attempt < 2; attempt++) { // the second open fails the same way
      assertThatThrownBy(() -> provider.open(0))
          .isInstanceOf(DeviceUnavailableException.class)
          .hasMessage("cuda: no NVIDIA driver on this machine (no jnicudart: libcuda.so.1 not found)")
          .hasMessageNotContaining("\n");
    }
  }

  @Test
  void aNegativeIndexIsRefusedBeforeAnyNativeCode() {
    assertThatThrownBy(() -> new CudaBackendProvider().open(-1))
        .isInstanceOf(DeviceUnavailableException.class)
        .hasMessage("cuda: device index must be >= 0, got -1");
  }
}
