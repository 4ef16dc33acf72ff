package dev.shardopt.client;

import dev.shardopt.client.embedded.EmbeddedCluster;

/**
 * Entry point of the Java client.
 *
 * <pre>{@code
 * try (ShardoptCluster cluster = Shardopt.connect("localhost:7070")) {
 *   RemoteModel model = cluster.createModel("mlp", adam(1e-3).warmup(100),
 *       Tensors.of("w1", 64, 128).init(normal(0.05, 42)), Tensors.of("b1", 128));
 *   Trainer trainer = model.trainer(0, 1);
 *   Map<String, float[]> params = trainer.pull();
 *   trainer.push(0, gradients);
 * }
 * }</pre>
 */
public final class Shardopt {
  private Shardopt() {}

  /** A client of the cluster whose coordinator serves at {@code target} ({@code host:port}). */
  public static ShardoptCluster connect(String target) {
    return connect(target, ClientOptions.defaults());
  }

  public static ShardoptCluster connect(String target, ClientOptions options) {
    return new ShardoptCluster(target, options, null);
  }

  /**
   * An embedded cluster: a coordinator and {@code workers} workers in this process, as real gRPC
   * servers on loopback ports. Closing the returned client stops them.
   */
  public static ShardoptCluster local(int workers) {
    return local(EmbeddedCluster.builder().workers(workers), ClientOptions.defaults());
  }

  /** An embedded cluster from a builder (settings, fault-injecting modules). */
  public static ShardoptCluster local(EmbeddedCluster.Builder builder, ClientOptions options) {
    EmbeddedCluster cluster = builder.start();
    try {
      return new ShardoptCluster(cluster.coordinatorAddress(), options, cluster);
    } catch (RuntimeException e) {
      cluster.close();
      throw e;
    }
  }
}
