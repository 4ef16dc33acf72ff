package dev.shardopt.engine.device;

/**
 * A device has not the memory an allocation asks for. The worker maps it to RESOURCE_EXHAUSTED; the
 * message names the sizes.
 */
public final class DeviceMemoryException extends RuntimeException {
  private final long requestedBytes;
  private final long freeBytes;

  public DeviceMemoryException(String message, long requestedBytes, long freeBytes) {
    super(message);
    this.requestedBytes = requestedBytes;
    this.freeBytes = freeBytes;
  }

  public long requestedBytes() {
    return requestedBytes;
  }

  /** -1 when unknown. */
  public long freeBytes() {
    return freeBytes;
  }
}
