package dev.shardopt.worker.store;

import dev.shardopt.checkpoint.CheckpointException;
import dev.shardopt.checkpoint.FileRange;
import dev.shardopt.checkpoint.ShardWriter;
import dev.shardopt.engine.ShardSpec;
import java.util.ArrayList;
import java.util.List;

/**
 * A copy of this worker's shards of a model at an update boundary: parameters and every optimizer
 * state slot, taken in memory so that training waits only for the copy, written later.
 *
 * @param step the steps completed at the boundary
 * @param slots the state slots' names, in the order of {@code state[i]}
 * @param parameters per shard
 * @param state per shard, per slot
 */
record ShardCheckpoint(
    long step, long updatesApplied, long stepsSkipped, List<ShardSpec> shards, List<String> slots,
    float[][] parameters, float[][][] state) {

  /** The bytes copied. */
  long bytes() {
    long elements = 0;
    for (ShardSpec s : shards) {
      elements += (long) s.length() * (1 + slots.size());
    }
    return elements * Float.BYTES;
  }

  /**
   * Writes every shard's parameters and state slots at their offsets, then forces each file once
   * (not once per range); the ranges written, in order, all on disk when this returns.
   */
  List<FileRange> writeTo(ShardWriter writer) throws CheckpointException {
    List<FileRange> ranges = new ArrayList<>();
    for (int i = 0; i < shards.size(); i++) {
      ShardSpec s = shards.get(i);
      if (s.length() == 0) {
        continue;
      }
      ranges.add(writer.writeUnforced(s.name(), "", s.offset(), parameters[i]));
      for (int j = 0; j < slots.size(); j++) {
        ranges.add(writer.writeUnforced(s.name(), slots.get(j), s.offset(), state[i][j]));
      }
    }
    writer.force();
    return ranges;
  }
}
