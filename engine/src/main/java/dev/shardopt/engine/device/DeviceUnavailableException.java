package dev.shardopt.engine.device;

/**
 * A backend cannot start here: no driver, no platform, no device at that index, or a kernel that
 * does not compile. The message is one line a person can act on.
 */
public final class DeviceUnavailableException extends RuntimeException {
  public DeviceUnavailableException(String message) {
    super(message);
  }

  public DeviceUnavailableException(String message, Throwable cause) {
    super(message, cause);
  }
}
