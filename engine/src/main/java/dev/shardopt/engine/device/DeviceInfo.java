package dev.shardopt.engine.device;

/**
 * What {@code status} shows of a worker's device.
 *
 * @param kind {@code "cpu"}, {@code "opencl"} or {@code "cuda"}
 * @param name the device's own name (e.g. "NVIDIA H200", "pthread-Intel(R) Xeon…", "Java heap")
 * @param totalBytes memory the device has, -1 when unknown
 * @param freeBytes memory still free, -1 when unknown
 * @param usedByShardsBytes bytes this backend holds for shards and their state
 */
public record DeviceInfo(String kind, String name, long totalBytes, long freeBytes, long usedByShardsBytes) {}
