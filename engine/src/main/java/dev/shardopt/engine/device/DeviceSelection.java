package dev.shardopt.engine.device;

import java.util.List;
import java.util.Objects;

/**
 * Which backend a process puts its shards in ({@code --device}, {@code --device-index},
 * {@code --device-memory-limit}).
 *
 * @param kind {@code cpu}, {@code opencl}, {@code cuda} or {@code auto} (cuda if it opens, else
 *     opencl, else cpu)
 * @param index the device's index among its kind's devices, >= 0 (cpu has only 0)
 * @param memoryLimitBytes the most bytes the shards may take on it ({@link MemoryLimitedBackend}),
 *     or 0 for the device's own memory
 */
public record DeviceSelection(String kind, int index, long memoryLimitBytes) {

  /** The kinds {@link #kind} may name, in the order a person reads them. */
  public static final List<String> KINDS = List.of("cpu", "opencl", "cuda", "auto");

  /** @throws IllegalArgumentException naming the field, the value and what is allowed */
  public DeviceSelection {
    Objects.requireNonNull(kind, "kind");
    if (!KINDS.contains(kind)) {
      throw new IllegalArgumentException("device '" + kind + "' is unknown; use one of " + String.join(", ", KINDS));
    }
    if (index < 0) {
      throw new IllegalArgumentException("device index must be >= 0, got " + index);
    }
    if (kind.equals("cpu") && index != 0) {
      throw new IllegalArgumentException("device index " + index + " with device cpu: the cpu backend has one device, 0");
    }
    if (memoryLimitBytes < 0) {
      throw new IllegalArgumentException("device memory limit must be >= 0 bytes (0 for none), got " + memoryLimitBytes);
    }
  }

  /** The default: the Java kernels on the heap. */
  public static DeviceSelection cpu() {
    return new DeviceSelection("cpu", 0, 0);
  }

  /** Device 0 of {@code kind}, without a memory limit. */
  public static DeviceSelection of(String kind) {
    return new DeviceSelection(kind, 0, 0);
  }

  public DeviceSelection withIndex(int i) {
    return new DeviceSelection(kind, i, memoryLimitBytes);
  }

  public DeviceSelection withMemoryLimit(long bytes) {
    return new DeviceSelection(kind, index, bytes);
  }
}
