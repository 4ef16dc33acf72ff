package dev.shardopt.cli.chaos;

import static dev.shardopt.client.Initializers.uniform;

import dev.shardopt.v1.Initializer;
import dev.shardopt.client.ModelOptions;
import dev.shardopt.client.RemoteModel;
import dev.shardopt.client.ShardoptCluster;
import dev.shardopt.client.Tensors;
import dev.shardopt.client.Trainer;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.engine.InitialValues;
import dev.shardopt.engine.LocalOptimizer;
import dev.shardopt.engine.TensorShape;
import dev.shardopt.engine.kernel.ParallelApply;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * The chaos suite's training run: sync Adam with clipNorm, K = 2 trainers, three tensors; each
 * trainer pulls the version of its step, computes a gradient from those parameters and pushes it.
 * Because every gradient depends on the parameters pulled, an update lost or applied twice changes
 * every later step, so the final parameters show it. {@link #reference} runs the same steps on the
 * in-process {@link LocalOptimizer} (no server, no network): the fault-free result to compare with.
 *
 * <p>Gradient of trainer {@code r} at step {@code s} for element {@code i} of a tensor with
 * parameters {@code p}: {@code (float) (StrictMath.sin(1.7 p[i] + 0.37 s + 0.5 r + 0.01 i) * (1 + 0.5 r))}.
 */
final class SyncWorkload {
  static final Pipeline PIPELINE = Pipeline.parse("adam(1e-2).clipNorm(1.0)");
  static final int TRAINERS = 2;
  private static final Map<String, Integer> SIZES = sizes();
  private static final Map<String, Initializer> INITS = inits();

  /** Called by trainer 0 before it pushes each step (the place to inject a process fault). */
  interface StepHook {
    void beforePush(long step) throws Exception;
  }

  private static Map<String, Integer> sizes() {
    Map<String, Integer> m = new LinkedHashMap<>();
    m.put("w", 3000);
    m.put("v", 1500);
    m.put("b", 200);
    return m;
  }

  private static Map<String, Initializer> inits() {
    Map<String, Initializer> m = new LinkedHashMap<>();
    m.put("w", uniform(-1, 1, 11));
    m.put("v", uniform(-0.5, 0.5, 12));
    m.put("b", uniform(-0.1, 0.1, 13));
    return m;
  }

  static ModelOptions model(String id, int replicas) {
    ModelOptions o = ModelOptions.named(id).pipeline(PIPELINE).trainers(TRAINERS).replicas(replicas).sync();
    List<dev.shardopt.client.TensorDef> defs = new ArrayList<>();
    SIZES.forEach((name, n) -> defs.add(Tensors.of(name, n).init(INITS.get(name))));
    return o.tensors(defs.toArray(dev.shardopt.client.TensorDef[]::new));
  }

  static Map<String, float[]> gradient(int rank, long step, Map<String, float[]> params) {
    Map<String, float[]> g = new LinkedHashMap<>();
    params.forEach((name, p) -> {
      float[] out = new float[p.length];
      for (int i = 0; i < p.length; i++) {
        out[i] = (float) (StrictMath.sin(1.7 * p[i] + 0.37 * step + 0.5 * rank + 0.01 * i) * (1 + 0.5 * rank));
      }
      g.put(name, out);
    });
    return g;
  }

  /** The fault-free parameters after {@code steps}, computed in process. */
  static Map<String, float[]> reference(int steps) {
    ExecutorService pool = Executors.newSingleThreadExecutor();
    Map<TensorShape, float[]> init = new LinkedHashMap<>();
    SIZES.forEach((name, n) -> {
      float[] v = new float[n];
      InitialValues.fill(INITS.get(name), 0, v);
      init.put(new TensorShape(name, new long[] {n}), v);
    });
    try (LocalOptimizer opt = new LocalOptimizer(PIPELINE, init, TRAINERS, new ParallelApply(pool, 1))) {
      for (long s = 0; s < steps; s++) {
        Map<String, float[]> p = opt.parameters();
        List<Map<String, float[]>> grads = new ArrayList<>();
        for (int r = 0; r < TRAINERS; r++) {
          grads.add(gradient(r, s, p));
        }
        opt.push(grads);
      }
      if (opt.updatesApplied() != steps) {
        throw new IllegalStateException("the reference applied " + opt.updatesApplied() + " of " + steps + " steps");
      }
      return opt.parameters();
    } finally {
      pool.shutdownNow();
    }
  }

  /**
   * Trains {@code model} for {@code steps} with two trainer threads; returns once both have pushed
   * every step; every wait bounded by {@code timeoutSeconds}.
   */
  static void train(RemoteModel model, int steps, StepHook hook, long timeoutSeconds)
      throws Exception {
    ExecutorService threads = Executors.newFixedThreadPool(TRAINERS);
    try {
      List<Future<?>> done = new ArrayList<>();
      for (int r = 0; r < TRAINERS; r++) {
        int rank = r;
        Trainer trainer = model.trainer(rank, TRAINERS);
        done.add(threads.submit(() -> {
          for (long s = 0; s < steps; s++) {
            Map<String, float[]> g = gradient(rank, s, trainer.pull(s));
            if (rank == 0) {
              hook.beforePush(s);
            }
            trainer.push(s, g);
          }
          return null;
        }));
      }
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
      for (Future<?> f : done) {
        f.get(Math.max(1, end - System.nanoTime()), TimeUnit.NANOSECONDS);
      }
    } finally {
      threads.shutdownNow();
    }
  }

  private SyncWorkload() {}
}
