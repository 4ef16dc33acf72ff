package dev.shardopt.coordinator;

import java.nio.file.Path;

/**
 * A coordinator's settings.
 *
 * @param host address to bind (loopback by default)
 * @param port port to serve on; 0 picks a free one
 * @param heartbeatMillis how often workers send heartbeats
 * @param missedBeats heartbeats a worker may miss before it is unhealthy
 * @param barrierTimeoutMillis how long a synchronous step waits for every worker's report
 * @param maxShardBlocks largest shard in reduction blocks, 0 for no limit
 * @param stateDir where the coordinator keeps its durable state ({@code --state-dir}); null: nowhere
 */
public record CoordinatorConfig(String host, int port, long heartbeatMillis, int missedBeats, long barrierTimeoutMillis,
    long maxShardBlocks, Path stateDir) {

  public static CoordinatorConfig defaults() {
    return new CoordinatorConfig("127.0.0.1", 0, 500, 6, 30_000, 0, null);
  }

  public CoordinatorConfig withStateDir(Path dir) {
    return new CoordinatorConfig(host, port, heartbeatMillis, missedBeats, barrierTimeoutMillis, maxShardBlocks, dir);
  }

  public CoordinatorConfig withPort(int p) {
    return new CoordinatorConfig(host, p, heartbeatMillis, missedBeats, barrierTimeoutMillis, maxShardBlocks, stateDir);
  }

  public CoordinatorConfig withHost(String h) {
    return new CoordinatorConfig(h, port, heartbeatMillis, missedBeats, barrierTimeoutMillis, maxShardBlocks, stateDir);
  }

  public CoordinatorConfig withBarrierTimeoutMillis(long t) {
    return new CoordinatorConfig(host, port, heartbeatMillis, missedBeats, t, maxShardBlocks, stateDir);
  }

  public CoordinatorConfig withHeartbeatMillis(long h) {
    return new CoordinatorConfig(host, port, h, missedBeats, barrierTimeoutMillis, maxShardBlocks, stateDir);
  }

  /** Heartbeats a worker may miss before it is unhealthy, and, holding copies of a model, declared dead. */
  public CoordinatorConfig withMissedBeats(int n) {
    if (n < 1) {
      throw new IllegalArgumentException("missedBeats must be >= 1, got " + n);
    }
    return new CoordinatorConfig(host, port, heartbeatMillis, n, barrierTimeoutMillis, maxShardBlocks, stateDir);
  }

  public CoordinatorConfig withMaxShardBlocks(long b) {
    return new CoordinatorConfig(host, port, heartbeatMillis, missedBeats, barrierTimeoutMillis, b, stateDir);
  }
}
