package dev.shardopt.worker.store;

import dev.shardopt.engine.ShardSpec;
import dev.shardopt.rpc.ApiException;
import dev.shardopt.v1.Initializer;
import java.util.BitSet;
import java.util.List;
import java.util.Locale;

/**
 * Which elements of this worker's upload shards have their initial values: the model is loaded
 * once every shard of a tensor with the {@code upload} initializer is complete. Shards of tensors
 * with a generated initializer were filled at creation and take no writes.
 */
final class UploadTracker {
  private final String model;
  private final List<ShardSpec> shards;
  private final List<Initializer.KindCase> kinds;
  private final BitSet[] written; // null for a shard that needs no upload
  private volatile boolean loaded;

  /**
   * @param kinds each shard's tensor's initializer
   * @param restored whether the shards were read from a checkpoint: then nothing is uploaded
   */
  UploadTracker(String model, List<ShardSpec> shards, List<Initializer.KindCase> kinds, boolean restored) {
    this.model = model;
    this.shards = List.copyOf(shards);
    this.kinds = List.copyOf(kinds);
    this.written = new BitSet[shards.size()];
    for (int i = 0; i < written.length; i++) {
      if (!restored && kinds.get(i) == Initializer.KindCase.UPLOAD && shards.get(i).length() > 0) {
        written[i] = new BitSet(shards.get(i).length());
      }
    }
    this.loaded = complete();
  }

  boolean loaded() {
    return loaded;
  }

  /**
   * Writes {@code count} elements from {@code from} of shard {@code i} with {@code write}, and
   * records them.
   *
   * @return true when this write completed the last upload shard
   * @throws ApiException FAILED_PRECONDITION for a generated tensor, or once loaded
   */
  synchronized boolean write(int i, int from, int count, Runnable write) {
    ShardSpec s = shards.get(i);
    if (kinds.get(i) != Initializer.KindCase.UPLOAD) {
      throw ApiException.failedPrecondition("tensor '" + s.name() + "' of " + model + " has the generated initializer "
          + kindName(kinds.get(i)) + "; WriteParameters only takes tensors with the upload initializer");
    }
    if (loaded) {
      throw ApiException.failedPrecondition(
          model + " is already loaded on this worker; initial values can only be written before the first push");
    }
    write.run();
    written[i].set(from, from + count);
    loaded = complete();
    return loaded;
  }

  private boolean complete() {
    for (int i = 0; i < written.length; i++) {
      if (written[i] != null && written[i].cardinality() != shards.get(i).length()) {
        return false;
      }
    }
    return true;
  }

  private static String kindName(Initializer.KindCase k) {
    return k == Initializer.KindCase.KIND_NOT_SET ? "zeros (none given)" : k.name().toLowerCase(Locale.ROOT);
  }
}
