package dev.shardopt.embedded;

import dev.shardopt.client.RemoteModel;
import dev.shardopt.client.Trainer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.IntToDoubleFunction;

/**
 * The SYNC training loop of the cluster tests, and their random gradients: one place, so that every
 * cluster-against-reference comparison drives the cluster the same way.
 */
final class SyncTrainingRun {
  private SyncTrainingRun() {}

  /**
   * {@code grads.get(s).get(r)} per tensor: Gaussian values times {@code scale(s)}, drawn from one
   * seeded stream in step, trainer, tensor, element order.
   */
  static List<List<Map<String, float[]>>> gaussianGradients(
      long seed, int steps, int trainers, String[] names, long[][] shapes, IntToDoubleFunction scale) {
    Random rnd = new Random(seed);
    List<List<Map<String, float[]>>> out = new ArrayList<>();
    for (int s = 0; s < steps; s++) {
      double k = scale.applyAsDouble(s);
      List<Map<String, float[]>> push = new ArrayList<>();
      for (int r = 0; r < trainers; r++) {
        Map<String, float[]> g = new LinkedHashMap<>();
        for (int t = 0; t < names.length; t++) {
          float[] v = new float[size(shapes[t])];
          for (int i = 0; i < v.length; i++) {
            v[i] = (float) (k * rnd.nextGaussian());
          }
          g.put(names[t], v);
        }
        push.add(g);
      }
      out.add(push);
    }
    return out;
  }

  /** Elements of a tensor of this shape. */
  static int size(long[] shape) {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    return Math.toIntExact(n);
  }

  /**
   * Runs {@code grads} through {@code model}: per step each trainer, on its own thread, pulls the
   * step's version and then pushes its gradient; after every step the parameters are pulled.
   *
   * @return the parameters after every step
   */
  static List<Map<String, float[]>> train(RemoteModel model, List<List<Map<String, float[]>>> grads)
      throws Exception {
    return train(model, grads, s -> { });
  }

  /** As {@link #train(RemoteModel, List)}, calling {@code beforeStep} with each step first (to inject faults). */
  static List<Map<String, float[]>> train(RemoteModel model, List<List<Map<String, float[]>>> grads,
      java.util.function.IntConsumer beforeStep) throws Exception {
    return train(model, grads, 0, beforeStep);
  }

  /**
   * As {@link #train(RemoteModel, List, java.util.function.IntConsumer)} from step {@code firstStep}
   * on (a restored model's): the parameters after each of steps firstStep .. grads.size() - 1.
   */
  static List<Map<String, float[]>> train(RemoteModel model, List<List<Map<String, float[]>>> grads, int firstStep,
      java.util.function.IntConsumer beforeStep) throws Exception {
    int trainerCount = grads.get(0).size();
    List<Trainer> trainers = new ArrayList<>();
    for (int r = 0; r < trainerCount; r++) {
      trainers.add(model.trainer(r, trainerCount));
    }
    ExecutorService threads = Executors.newFixedThreadPool(trainerCount);
    try {
      List<Map<String, float[]>> out = new ArrayList<>();
      for (int s = firstStep; s < grads.size(); s++) {
        beforeStep.accept(s);
        List<Future<?>> pushes = new ArrayList<>();
        for (int r = 0; r < trainerCount; r++) {
          Trainer trainer = trainers.get(r);
          Map<String, float[]> g = grads.get(s).get(r);
          int step = s;
          pushes.add(threads.submit(() -> {
            trainer.pull(); // the sync loop: pull the step's version, then push
            return trainer.push(step, g);
          }));
        }
        for (Future<?> f : pushes) {
          f.get(60, TimeUnit.SECONDS);
        }
        out.add(model.pull(s + 1));
      }
      return out;
    } finally {
      threads.shutdownNow();
    }
  }
}
