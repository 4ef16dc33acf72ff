package dev.shardopt.coordinator;

import dev.shardopt.v1.CommitCopyRequest;
import dev.shardopt.v1.CopyShardsRequest;
import dev.shardopt.v1.CopyShardsResponse;
import dev.shardopt.v1.TensorChunk;
import java.util.Iterator;

/** The coordinator's calls that copy live shards from one worker to another (re-replication). */
public interface ShardCopier {
  /**
   * Starts CopyShards on a source now (the worker takes its hold as the request arrives); the
   * iterator blocks for each message, the first once the source reached the step.
   */
  Iterator<CopyShardsResponse> copyShards(String address, CopyShardsRequest request);

  /** Writes {@code chunks} (the first naming the model) into the copy on the worker at {@code address}. */
  void writeCopy(String address, Iterator<TensorChunk> chunks);

  /** Ends a copy on a source or on the new copy (see Worker.CommitCopy). */
  void commitCopy(String address, CommitCopyRequest request);
}
