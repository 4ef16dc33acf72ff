package dev.shardopt.cli.watch;

import dev.shardopt.v1.Model;
import dev.shardopt.v1.StepMetrics;
import dev.shardopt.v1.WorkerStatus;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The watch's memory between samples: per model, the step at each recent sample (for the rate) and
 * the metrics of the latest {@code history} steps (for the sparklines). {@link #add} takes a sample,
 * {@link #view} says what to show. Not thread-safe: one refresh loop owns it.
 *
 * <p>Steps per second, exactly: of the samples taken within {@code rateWindowNanos} of the newest
 * one (the newest included), the oldest o and the newest n give
 * {@code (step(n) - step(o)) / ((nanos(n) - nanos(o)) / 1e9)}; NaN while they are the same sample
 * or taken at the same instant. A model whose step went down (deleted and created again under its
 * name) starts over.
 */
public final class WatchState implements ClusterSampler.FromStep {
  private final String coordinator;
  private final int history;
  private final long rateWindowNanos;
  private final Map<String, ModelMemory> models = new HashMap<>();
  private ClusterSample latest;
  private ClusterSample latestWithStatus;
  private long samples;

  /**
   * @param history steps kept per model for the sparklines, at least 1
   * @param rateWindowNanos how far back the rate looks, more than 0
   */
  public WatchState(String coordinator, int history, long rateWindowNanos) {
    if (history < 1) {
      throw new IllegalArgumentException("history must be at least 1, got " + history);
    }
    if (rateWindowNanos <= 0) {
      throw new IllegalArgumentException("rate window must be positive, got " + rateWindowNanos + " ns");
    }
    this.coordinator = coordinator;
    this.history = history;
    this.rateWindowNanos = rateWindowNanos;
  }

  /** The steps not yet held: after the newest one kept, and never more than {@code history} back. */
  @Override
  public long of(String model, long step) {
    long earliest = Math.max(0, step - history + 1);
    ModelMemory m = models.get(model);
    if (m == null || m.steps.isEmpty() || step < m.lastStep) {
      return earliest;
    }
    return Math.max(earliest, m.steps.lastKey() + 1);
  }

  public void add(ClusterSample sample) {
    samples++;
    latest = sample;
    if (sample.status() == null) {
      return;
    }
    latestWithStatus = sample;
    Map<String, ModelMemory> seen = new HashMap<>();
    for (Model m : sample.status().getModelsList()) {
      ModelMemory memory = models.get(m.getName());
      if (memory == null || m.getStep() < memory.lastStep) {
        memory = new ModelMemory();
      }
      memory.record(sample.nanos(), m.getStep(), sample.steps().getOrDefault(m.getName(), List.of()));
      seen.put(m.getName(), memory);
    }
    models.clear(); // models gone from the status are forgotten
    models.putAll(seen);
  }

  public ClusterView view() {
    String error = latest == null ? "no sample yet" : latest.error();
    if (latestWithStatus == null) {
      return new ClusterView(coordinator, error, samples, List.of(), List.of());
    }
    List<ClusterView.WorkerRow> workers = new ArrayList<>();
    for (WorkerStatus w : latestWithStatus.status().getWorkersList()) {
      workers.add(new ClusterView.WorkerRow(w.getName(), w.getAddress(), w.getHealthy(), w.getMillisSinceHeartbeat(),
          w.getShards()));
    }
    List<ClusterView.ModelRow> rows = new ArrayList<>();
    for (Model m : latestWithStatus.status().getModelsList()) {
      ModelMemory memory = models.get(m.getName());
      List<Double> norms = new ArrayList<>();
      List<Double> rates = new ArrayList<>();
      for (StepMetrics s : memory.steps.values()) {
        norms.add(s.getGradientNorm());
        rates.add(s.getLearningRate());
      }
      rows.add(new ClusterView.ModelRow(m.getName(), m.getMode().name(), m.getState().name(), m.getStep(),
          memory.stepsPerSecond(), m.getStepsSkipped(), m.getDuplicates(), norms, rates, m.getFailure()));
    }
    return new ClusterView(coordinator, error, samples, workers, rows);
  }

  private final class ModelMemory {
    final Deque<long[]> marks = new ArrayDeque<>(); // {nanos, step}, oldest first
    final TreeMap<Long, StepMetrics> steps = new TreeMap<>();
    long lastStep;

    void record(long nanos, long step, List<StepMetrics> newSteps) {
      lastStep = step;
      marks.addLast(new long[] {nanos, step});
      while (nanos - marks.peekFirst()[0] > rateWindowNanos) {
        marks.removeFirst();
      }
      for (StepMetrics s : newSteps) {
        steps.put(s.getStep(), s);
      }
      while (steps.size() > history) {
        steps.pollFirstEntry();
      }
    }

    double stepsPerSecond() {
      long[] first = marks.peekFirst();
      long[] last = marks.peekLast();
      if (last[0] == first[0]) {
        return Double.NaN;
      }
      return (last[1] - first[1]) / ((last[0] - first[0]) / 1e9);
    }
  }
}
