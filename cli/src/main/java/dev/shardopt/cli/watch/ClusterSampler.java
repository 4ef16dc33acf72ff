package dev.shardopt.cli.watch;

/** Takes a {@link ClusterSample}: the coordinator over gRPC in the command, canned answers in tests. */
public interface ClusterSampler {

  /** The first step whose metrics a sample should bring for a model now at {@code step}. */
  interface FromStep {
    long of(String model, long step);
  }

  /** A sample; a coordinator that cannot be reached is a sample with an error, never an exception. */
  ClusterSample sample(FromStep fromStep);
}
