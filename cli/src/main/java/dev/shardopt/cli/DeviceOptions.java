package dev.shardopt.cli;

import dev.shardopt.engine.device.DeviceSelection;
import picocli.CommandLine.Option;

/**
 * {@code --device}, {@code --device-index} and {@code --device-memory-limit}: where a command's
 * workers (or its in-process optimizer) keep their shards. A mixin of worker, replay and train.
 */
public final class DeviceOptions {
  @Option(names = "--device", paramLabel = "KIND", defaultValue = "cpu",
      description = "Where the shards live: cpu (the Java kernels), opencl, cuda, or auto (cuda if it opens, else opencl, "
          + "else cpu; it says which it chose and why) (default: ${DEFAULT-VALUE}).")
  String kind = "cpu";

  @Option(names = "--device-index", paramLabel = "N", defaultValue = "0",
      description = "Which device of that kind, counted from 0 (default: ${DEFAULT-VALUE}).")
  int index;

  @Option(names = "--device-memory-limit", paramLabel = "BYTES",
      description = "The most bytes the shards may take on the device (default: its memory); a model over it is refused "
          + "with RESOURCE_EXHAUSTED at creation.")
  Long memoryLimitBytes;

  /** The selection, checked; throws UserErrorException naming the option, the value and what is allowed. */
  public DeviceSelection selection() {
    if (!DeviceSelection.KINDS.contains(kind)) {
      throw new UserErrorException("--device must be one of " + String.join(", ", DeviceSelection.KINDS) + ", got '"
          + kind + "'");
    }
    if (index < 0) {
      throw new UserErrorException("--device-index must be >= 0, got " + index);
    }
    if (kind.equals("cpu") && index != 0) {
      throw new UserErrorException("--device-index " + index + " with --device cpu: the cpu backend has one device, 0");
    }
    if (memoryLimitBytes != null && memoryLimitBytes <= 0) {
      throw new UserErrorException("--device-memory-limit must be > 0 bytes, got " + memoryLimitBytes);
    }
    return new DeviceSelection(kind, index, memoryLimitBytes == null ? 0 : memoryLimitBytes);
  }
}
