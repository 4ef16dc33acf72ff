package dev.shardopt.cli.watch;

import dev.shardopt.v1.ClusterStatus;
import dev.shardopt.v1.StepMetrics;
import java.util.List;
import java.util.Map;

/**
 * One look at the cluster: the coordinator's status and, per model, the step metrics it reported
 * from the step the watch asked for on; or why there is none ({@code error}, with {@code status} null).
 *
 * @param nanos when it was taken, on {@link System#nanoTime()}'s scale (only differences count)
 */
public record ClusterSample(long nanos, ClusterStatus status, Map<String, List<StepMetrics>> steps, String error) {

  public static ClusterSample of(long nanos, ClusterStatus status, Map<String, List<StepMetrics>> steps) {
    return new ClusterSample(nanos, status, Map.copyOf(steps), null);
  }

  public static ClusterSample failed(long nanos, String error) {
    return new ClusterSample(nanos, null, Map.of(), error);
  }
}
