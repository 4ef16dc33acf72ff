package dev.shardopt.coordinator;

import dev.shardopt.v1.CreateShardsRequest;
import dev.shardopt.v1.SetPipelineRequest;

/** The coordinator's calls to workers. The gRPC form is {@link GrpcWorkerFleet}; tests fake it. */
public interface WorkerFleet {
  void createShards(String address, CreateShardsRequest request);

  void dropModel(String address, String model);

  void setPipeline(String address, SetPipelineRequest request);
}
