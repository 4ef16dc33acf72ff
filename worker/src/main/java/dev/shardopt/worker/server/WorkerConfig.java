package dev.shardopt.worker.server;

import dev.shardopt.engine.device.DeviceSelection;
import dev.shardopt.rpc.TensorBytes;

/**
 * A worker's settings.
 *
 * @param host address to bind (loopback by default)
 * @param port port to serve on; 0 picks a free one
 * @param coordinator host:port of the coordinator
 * @param threads kernel threads
 * @param waitMillis how long a pull may wait for its step, or an SSP push for slower trainers
 * @param chunkBytes largest data chunk of a pull message
 * @param device where the shards live (cpu by default)
 * @param advertise host:port registered with the coordinator, for trainers and the coordinator to reach
 *     this worker by (a fault proxy in front of it, say); null: the bound host and port
 */
public record WorkerConfig(String host, int port, String coordinator, int threads, long waitMillis, int chunkBytes,
    DeviceSelection device, String advertise) {
  public static WorkerConfig defaults(String coordinator) {
    return new WorkerConfig("127.0.0.1", 0, coordinator, Runtime.getRuntime().availableProcessors(), 60_000,
        TensorBytes.DEFAULT_CHUNK_BYTES, DeviceSelection.cpu(), null);
  }

  public WorkerConfig withAdvertise(String a) {
    return new WorkerConfig(host, port, coordinator, threads, waitMillis, chunkBytes, device, a);
  }

  public WorkerConfig withPort(int p) {
    return new WorkerConfig(host, p, coordinator, threads, waitMillis, chunkBytes, device, advertise);
  }

  public WorkerConfig withHost(String h) {
    return new WorkerConfig(h, port, coordinator, threads, waitMillis, chunkBytes, device, advertise);
  }

  public WorkerConfig withThreads(int t) {
    return new WorkerConfig(host, port, coordinator, t, waitMillis, chunkBytes, device, advertise);
  }

  public WorkerConfig withWaitMillis(long w) {
    return new WorkerConfig(host, port, coordinator, threads, w, chunkBytes, device, advertise);
  }

  public WorkerConfig withChunkBytes(int c) {
    return new WorkerConfig(host, port, coordinator, threads, waitMillis, c, device, advertise);
  }

  public WorkerConfig withDevice(DeviceSelection d) {
    return new WorkerConfig(host, port, coordinator, threads, waitMillis, chunkBytes, d, advertise);
  }
}
