package dev.shardopt.embedded;

import dev.shardopt.client.ClientOptions;
import dev.shardopt.client.ShardoptCluster;

/**
 * A client of an embedded cluster: a coordinator and n workers in this process, as real gRPC
 * servers on loopback ports, which this client calls in-process unless the builder says {@code
 * loopbackOnly()}. Closing the client stops them. The client itself ({@code
 * Shardopt.connect}) has no server code; this module adds it.
 *
 * <pre>{@code
 * try (ShardoptCluster cluster = ShardoptLocal.start(3)) { ... }
 * }</pre>
 */
public final class ShardoptLocal {
  private ShardoptLocal() {}

  /** An embedded cluster of {@code workers} workers with default settings. */
  public static ShardoptCluster start(int workers) {
    return start(EmbeddedCluster.builder().workers(workers), ClientOptions.defaults());
  }

  /**
   * An embedded cluster of {@code workers} workers whose shards live on {@code device}: cpu, opencl,
   * cuda or auto.
   *
   * @throws dev.shardopt.engine.device.DeviceUnavailableException with one line, when it cannot open here
   */
  public static ShardoptCluster start(int workers, String device) {
    return start(EmbeddedCluster.builder().workers(workers).device(device), ClientOptions.defaults());
  }

  /** An embedded cluster from a builder (settings, device, fault-injecting modules). */
  public static ShardoptCluster start(EmbeddedCluster.Builder builder, ClientOptions options) {
    EmbeddedCluster cluster = builder.start();
    try {
      return new ShardoptCluster(cluster.coordinatorAddress(), options, cluster,
          cluster.inProcessEndpoints().orElse(null));
    } catch (RuntimeException e) {
      cluster.close();
      throw e;
    }
  }
}
