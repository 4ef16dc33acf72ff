package dev.shardopt.coordinator;

import dev.shardopt.v1.CreateShardsRequest;
import dev.shardopt.v1.HoldPushesResponse;
import dev.shardopt.v1.ModelProgress;
import dev.shardopt.v1.PersistShardsResponse;
import dev.shardopt.v1.SnapshotShardsResponse;

/** The coordinator's calls to workers. The gRPC form is {@link GrpcWorkerFleet}; tests fake it. */
public interface WorkerFleet {
  void createShards(String address, CreateShardsRequest request);

  void dropModel(String address, String model);

  /** The model's progress on that worker now. */
  ModelProgress progress(String address, String model);

  /** Copies the worker's shards of {@code model} in memory once it has completed {@code step} steps. */
  SnapshotShardsResponse snapshotShards(String address, String model, long step);

  /**
   * ASYNC: holds the worker's pushes of {@code model} once its earlier checkpoint is written, and
   * answers each trainer's next push index; with {@code release}, ends the hold instead.
   */
  HoldPushesResponse holdPushes(String address, String model, boolean release);

  /** ASYNC: copies the worker's shards once exactly pushes 0 .. cut[r]-1 of every trainer r are applied. */
  SnapshotShardsResponse snapshotAtCut(String address, String model, long[] cut);

  /** Writes that snapshot into the checkpoint attempt directory {@code path}; returns the ranges written. */
  PersistShardsResponse persistShards(String address, String model, long step, String path);
}
