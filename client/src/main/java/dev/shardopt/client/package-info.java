/**
 * The Java client of a Shardopt cluster.
 *
 * <pre>{@code
 * import static dev.shardopt.dsl.Optimizers.*;
 * import static dev.shardopt.client.Initializers.*;
 *
 * try (ShardoptCluster cluster = Shardopt.connect("localhost:7070")) {
 *   RemoteModel model = cluster.createModel("mlp", adam(1e-3).warmup(100).cosine(10_000).clipNorm(1.0),
 *       Tensors.of("w1", 64, 128).init(normal(0.05, 42)), Tensors.of("b1", 128).init(zeros()));
 *   Trainer trainer = model.trainer(0, 1);
 *   for (long step = 0; step < 1000; step++) {
 *     Map<String, float[]> params = trainer.pull();   // waits for version `step`
 *     trainer.push(step, gradientOf(params));
 *   }
 * }
 * }</pre>
 *
 * <p>The coordinator (control plane) is reached through {@link dev.shardopt.client.ShardoptCluster};
 * tensor data goes directly between the trainer and the workers that the model's shard map names:
 *
 * <ul>
 *   <li><b>Push</b>: one {@code Worker.Push} client stream per worker, in parallel: a header
 *       (model, trainer, step; for ASYNC models the gradient's squared norm after clipValue and
 *       whether it has a NaN or infinity), then chunks of at most
 *       {@link dev.shardopt.client.ClientOptions#chunkBytes()} covering exactly that worker's shards.
 *       Chunks are encoded only while the call is ready (gRPC flow control), so a fast client holds
 *       at most about one transport window per worker, never a copy of the model.
 *   <li><b>Pull</b>: {@code Worker.Pull(model, min_step)} on every worker, in parallel; the chunks
 *       are decoded into one float[] per tensor as they arrive, every element must be covered
 *       exactly once and every worker must answer with the same step (when they do not, the pull
 *       is made again at the highest step seen, up to three times).
 *   <li><b>Retries</b>: a worker that answers a push with UNAVAILABLE is sent that push again, up
 *       to {@link dev.shardopt.client.ClientOptions#pushAttempts()} attempts in all (default 3)
 *       with a doubling backoff from {@link dev.shardopt.client.ClientOptions#retryBackoff()}
 *       (default 200 ms). That is safe because pushes are idempotent per (model, trainer, step): a
 *       worker that had received it answers {@code duplicate = true} and applies nothing. Other
 *       errors, and uploads, pulls and coordinator calls, are not retried.
 *   <li><b>Errors</b> from a server surface as {@link dev.shardopt.client.ShardoptException}, with
 *       the gRPC status code, the server's message and the address that answered; a malformed
 *       argument (a gradient without a tensor, of a wrong length) as {@code IllegalArgumentException}
 *       before anything is sent.
 * </ul>
 */
package dev.shardopt.client;
