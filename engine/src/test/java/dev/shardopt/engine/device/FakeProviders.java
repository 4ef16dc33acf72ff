package dev.shardopt.engine.device;

import dev.shardopt.engine.kernel.ParallelApply;
import java.util.concurrent.ForkJoinPool;

/** Device providers registered in the engine's test resources (META-INF/services) for DevicesTest. */
public final class FakeProviders {
  private FakeProviders() {}

  /** An OpenCL platform with one device, 0. */
  public static final class OpenCl implements DeviceBackendProvider {
    @Override
    public String kind() {
      return "opencl";
    }

    @Override
    public DeviceBackend open(int index) {
      if (index != 0) {
        throw new DeviceUnavailableException("no OpenCL device " + index + ": the platform has 1 (index 0)");
      }
      return new OffHeapTestBackend(new ParallelApply(ForkJoinPool.commonPool(), 1), "opencl", "Fake OpenCL device");
    }
  }

  /** CUDA on a machine without its driver: the JNI library does not load. */
  public static final class Cuda implements DeviceBackendProvider {
    @Override
    public String kind() {
      return "cuda";
    }

    @Override
    public DeviceBackend open(int index) {
      throw new UnsatisfiedLinkError("no jnicudart in java.library.path:\n  /usr/java/packages/lib");
    }
  }

  /** A provider whose constructor fails: ServiceLoader reports it, the others still load. */
  public static final class Broken implements DeviceBackendProvider {
    public Broken() {
      throw new IllegalStateException("broken on purpose");
    }

    @Override
    public String kind() {
      return "broken";
    }

    @Override
    public DeviceBackend open(int index) {
      throw new AssertionError("never constructed");
    }
  }
}
