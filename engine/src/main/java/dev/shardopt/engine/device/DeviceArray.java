package dev.shardopt.engine.device;

/** A flat fp32 array in a {@link DeviceBackend}'s memory. Only its backend reads or writes it. */
public interface DeviceArray {

  /** Number of floats. */
  int length();
}
