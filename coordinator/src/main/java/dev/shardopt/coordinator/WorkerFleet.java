package dev.shardopt.coordinator;

import dev.shardopt.v1.CreateShardsRequest;
import dev.shardopt.v1.CreateShardsResponse;
import dev.shardopt.v1.HoldPushesResponse;
import dev.shardopt.v1.ModelProgress;
import dev.shardopt.v1.PersistShardsResponse;
import dev.shardopt.v1.SnapshotShardsResponse;
import java.util.LinkedHashMap;
import java.util.Map;

/** The coordinator's calls to workers. The gRPC form is {@link GrpcWorkerFleet}; tests fake it. */
public interface WorkerFleet {
  CreateShardsResponse createShards(String address, CreateShardsRequest request);

  /**
   * What {@link #createShards(Map)} got, by address in the requests' order: the answers of the
   * workers that created their shards, and the failures of the others.
   */
  record Created(Map<String, CreateShardsResponse> answers, Map<String, RuntimeException> failures) {}

  /**
   * Creates shards on several workers ({@code requests} by address) and waits for every answer;
   * this one asks them one after the other, the gRPC fleet all at once.
   */
  default Created createShards(Map<String, CreateShardsRequest> requests) {
    Map<String, CreateShardsResponse> answers = new LinkedHashMap<>();
    Map<String, RuntimeException> failed = new LinkedHashMap<>();
    requests.forEach((address, request) -> {
      try {
        answers.put(address, createShards(address, request));
      } catch (RuntimeException e) {
        failed.put(address, e);
      }
    });
    return new Created(answers, failed);
  }

  void dropModel(String address, String model);

  /** The model's progress on that worker now. */
  ModelProgress progress(String address, String model);

  /**
   * Writes the worker's shards of {@code model} into the checkpoint attempt directory {@code path},
   * unforced, once it has completed {@code step} steps.
   */
  SnapshotShardsResponse snapshotShards(String address, String model, long step, String path);

  /**
   * ASYNC: holds the worker's pushes of {@code model} once its earlier checkpoint is written, and
   * answers each trainer's next push index; with {@code release}, ends the hold instead.
   */
  HoldPushesResponse holdPushes(String address, String model, boolean release);

  /**
   * ASYNC: writes the worker's shards into the checkpoint attempt directory {@code path}, unforced,
   * once exactly pushes 0 .. cut[r]-1 of every trainer r are applied.
   */
  SnapshotShardsResponse snapshotAtCut(String address, String model, long[] cut, String path);

  /** Forces that snapshot in {@code path} to disk; returns the ranges written. */
  PersistShardsResponse persistShards(String address, String model, long step, String path);
}
