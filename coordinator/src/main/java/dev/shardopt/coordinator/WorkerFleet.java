package dev.shardopt.coordinator;

import dev.shardopt.v1.CreateShardsRequest;
import dev.shardopt.v1.ModelProgress;

/** The coordinator's calls to workers. The gRPC form is {@link GrpcWorkerFleet}; tests fake it. */
public interface WorkerFleet {
  void createShards(String address, CreateShardsRequest request);

  void dropModel(String address, String model);

  /** The model's progress on that worker now. */
  ModelProgress progress(String address, String model);
}
