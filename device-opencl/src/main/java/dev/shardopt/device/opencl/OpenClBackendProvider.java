package dev.shardopt.device.opencl;

import dev.shardopt.engine.device.DeviceBackend;
import dev.shardopt.engine.device.DeviceBackendProvider;

/** Opens {@link OpenClBackend}s; registered for {@link java.util.ServiceLoader}. */
public final class OpenClBackendProvider implements DeviceBackendProvider {

  @Override
  public String kind() {
    return "opencl";
  }

  @Override
  public DeviceBackend open(int index) {
    return OpenClBackend.open(index);
  }
}
