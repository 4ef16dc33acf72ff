package dev.shardopt.worker.store;

import dev.shardopt.engine.ShardGroup;
import dev.shardopt.engine.ShardSpec;
import dev.shardopt.rpc.ApiException;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;

/**
 * A re-replicated copy of live shards being written onto this worker: which elements of which
 * arrays (the parameters and every state slot of each shard) have arrived. The copy serves nothing
 * until {@link #commit}, which requires every element of every array.
 */
final class CopyIn {
  private final String model;
  private final List<ShardSpec> shards;
  private final List<String> slots;
  private final BitSet[][] written; // [shard][1 + array]: 0 the parameters, then the state slots
  private volatile boolean committed;

  /** @param slots the rule's state slots, in the kernel's order */
  CopyIn(String model, List<ShardSpec> shards, List<String> slots) {
    this.model = model;
    this.shards = List.copyOf(shards);
    this.slots = List.copyOf(slots);
    this.written = new BitSet[shards.size()][slots.size() + 1];
    for (BitSet[] arrays : written) {
      for (int j = 0; j < arrays.length; j++) {
        arrays[j] = new BitSet();
      }
    }
  }

  /**
   * The array index ({@link ShardGroup#PARAMETERS} or a state slot's) of {@code slot}.
   *
   * @throws ApiException INVALID_ARGUMENT naming the slots there are
   */
  int arrayOf(String slot) {
    if (slot.isEmpty()) {
      return ShardGroup.PARAMETERS;
    }
    int j = slots.indexOf(slot);
    if (j < 0) {
      throw ApiException.invalidArgument("chunk.slot '" + slot + "' is no state slot of " + model + "'s rule (slots: "
          + slots + "; \"\" for the parameters)");
    }
    return j;
  }

  /** Writes {@code count} elements from {@code from} of shard {@code i}'s {@code array} with {@code write}, and records them. */
  synchronized void write(int i, int array, int from, int count, Runnable write) {
    if (committed) {
      throw ApiException.failedPrecondition(model + "'s copy on this worker is committed; its arrays take no more writes");
    }
    write.run();
    written[i][array + 1].set(from, from + count);
  }

  /** Whether the copy is complete and serving. */
  boolean committed() {
    return committed;
  }

  /**
   * Ends the copy: from now on it serves.
   *
   * @throws ApiException FAILED_PRECONDITION naming the first array with elements missing
   */
  synchronized void commit() {
    List<String> missing = new ArrayList<>();
    for (int i = 0; i < shards.size(); i++) {
      ShardSpec s = shards.get(i);
      for (int j = 0; j < written[i].length; j++) {
        if (written[i][j].cardinality() != s.length()) {
          missing.add("'" + s.name() + "'[" + s.offset() + ", " + (s.offset() + s.length()) + ") "
              + (j == 0 ? "parameters" : slots.get(j - 1)) + ": " + written[i][j].cardinality() + " of " + s.length());
        }
      }
    }
    if (!missing.isEmpty()) {
      throw ApiException.failedPrecondition("the copy of " + model + " on this worker is not complete: "
          + String.join("; ", missing.size() <= 4 ? missing : missing.subList(0, 4)) + " elements written");
    }
    committed = true;
  }
}
