package dev.shardopt.worker.store;

import dev.shardopt.engine.ShardSpec;
import java.util.ArrayDeque;
import java.util.List;

/**
 * Gradient arrays (one per shard) reused across pushes, so a steady run allocates none. Arrays
 * handed out are stale: a push overwrites every element it keeps.
 */
final class GradientPool {
  private final List<ShardSpec> shards;
  private final int keep;
  private final ArrayDeque<float[][]> free = new ArrayDeque<>();

  /** @param keep how many gradients to hold for reuse at most */
  GradientPool(List<ShardSpec> shards, int keep) {
    this.shards = List.copyOf(shards);
    this.keep = keep;
  }

  /** One array per shard; a shard's array that a push left out (null) is made anew. */
  float[][] take() {
    float[][] g;
    synchronized (free) {
      g = free.poll();
    }
    if (g == null) {
      g = new float[shards.size()][];
    }
    for (int i = 0; i < g.length; i++) {
      if (g[i] == null) {
        g[i] = new float[shards.get(i).length()];
      }
    }
    return g;
  }

  void release(float[][] gradient) {
    synchronized (free) {
      if (free.size() < keep) {
        free.push(gradient);
      }
    }
  }

  int free() {
    synchronized (free) {
      return free.size();
    }
  }
}
