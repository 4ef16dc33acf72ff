package dev.shardopt.client;

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
 *
 * <p>An embedded cluster for tests and single-machine runs is {@code ShardoptLocal.start(n)}, in
 * the shardopt-embedded module.
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
}
