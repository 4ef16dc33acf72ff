package dev.shardopt.cli.watch;

import java.util.List;

/**
 * What {@code watch} shows, computed from the samples so far ({@link WatchState#view()}): no
 * formatting, so that tests can check the numbers and both renderings show the same ones.
 *
 * @param error why the latest sample has no status (the coordinator unreachable), else null;
 *     workers and models are then the last ones seen
 * @param samples the samples taken so far
 */
public record ClusterView(String coordinator, String error, long samples, List<WorkerRow> workers, List<ModelRow> models) {

  public ClusterView {
    workers = List.copyOf(workers);
    models = List.copyOf(models);
  }

  public long healthyWorkers() {
    return workers.stream().filter(WorkerRow::healthy).count();
  }

  /** One worker as the coordinator sees it. */
  public record WorkerRow(String name, String address, boolean healthy, long millisSinceHeartbeat, int shards) {}

  /**
   * One model.
   *
   * @param stepsPerSecond steps decided per second over the rate window, or NaN until two samples
   *     in the window are apart in time
   * @param gradientNorms the global gradient norm of the latest steps, oldest first (NaN or
   *     infinite where the step's gradient was not finite)
   * @param learningRates the learning rate of the same steps
   */
  public record ModelRow(String name, String mode, String state, long step, double stepsPerSecond, long skipped,
      long duplicates, List<Double> gradientNorms, List<Double> learningRates, String failure) {

    public ModelRow {
      gradientNorms = List.copyOf(gradientNorms);
      learningRates = List.copyOf(learningRates);
    }
  }
}
