package dev.shardopt.checkpoint;

import dev.shardopt.v1.CheckpointManifest;
import dev.shardopt.v1.Initializer;
import dev.shardopt.v1.OptimizerPipeline;
import dev.shardopt.v1.PipelineGeneration;
import dev.shardopt.v1.PipelineSchedule;
import dev.shardopt.v1.TensorSpec;
import dev.shardopt.v1.TrainingMode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/** A small model with awkward names and shapes, its values, and checkpoints of it written by threads. */
final class Fixtures {

  static final List<String> SLOTS = List.of("m", "v");

  /** name -> shape: a dotted/slashed name, unicode and a space, a scalar, an empty tensor, an odd size. */
  static final Map<String, long[]> TENSORS = new LinkedHashMap<>();

  static {
    TENSORS.put("encoder/layer.0.weight", new long[] {64, 33});
    TENSORS.put("bias π θ", new long[] {7});
    TENSORS.put("scalar", new long[] {});
    TENSORS.put("empty", new long[] {0, 4});
    TENSORS.put("a.m", new long[] {3, 1, 5}); // would collide with a's slot m without escaping dots
    TENSORS.put("a", new long[] {1001});
  }

  private Fixtures() {}

  static List<TensorSpec> specs() {
    List<TensorSpec> out = new ArrayList<>();
    TENSORS.forEach((name, shape) -> {
      TensorSpec.Builder b = TensorSpec.newBuilder().setName(name);
      for (long d : shape) {
        b.addShape(d);
      }
      out.add(b.setInit(Initializer.newBuilder().setNormal(Initializer.Normal.newBuilder().setStd(0.02).setSeed(7)))
          .build());
    });
    return out;
  }

  static CheckpointPlan plan() {
    return CheckpointPlan.of(specs(), SLOTS);
  }

  /** Each file's values, by path: distinct per file and per seed, with negative zero, NaN and infinities. */
  static Map<String, float[]> values(CheckpointPlan plan, long seed) {
    Map<String, float[]> out = new LinkedHashMap<>();
    Random r = new Random(seed);
    for (CheckpointFile f : plan.files()) {
      float[] v = new float[(int) f.elements()];
      for (int i = 0; i < v.length; i++) {
        v[i] = (float) r.nextGaussian();
      }
      if (v.length > 4) {
        v[0] = -0.0f;
        v[1] = Float.NaN;
        v[2] = Float.POSITIVE_INFINITY;
        v[3] = Float.MIN_VALUE;
      }
      out.put(f.path(), v);
    }
    return out;
  }

  /** The manifest fields a coordinator fills in (an ASYNC model with 3 trainers and two pipelines). */
  static CheckpointManifest model(long step) {
    OptimizerPipeline p0 = OptimizerPipeline.newBuilder().setSpecVersion(1).setAccumulate(1).build();
    OptimizerPipeline p1 = p0.toBuilder().setAccumulate(2).build();
    return CheckpointManifest.newBuilder()
        .setModelId("mlp")
        .setPipelineText("adam(lr=0.001) | accumulate(2)")
        .setPipelineSchedule(PipelineSchedule.newBuilder()
            .addGenerations(PipelineGeneration.newBuilder().setGeneration(0).setFromStep(0).setPipeline(p0))
            .addGenerations(PipelineGeneration.newBuilder().setGeneration(1).setFromStep(5).setPipeline(p1))
            .setFixedThrough(step))
        .setTrainers(3)
        .setMode(TrainingMode.ASYNC)
        .setStaleness(2)
        .addAllTensors(specs())
        .setUpdatesApplied(step - 1)
        .setStepsSkipped(1)
        .addNextPush(step / 3 + 1).addNextPush(step / 3).addNextPush(step / 3)
        .build();
  }

  /**
   * Writes every file's values with {@code writers} threads, each its own ShardWriter (as separate worker
   * processes would), the data cut into chunks of random sizes dealt round-robin, so the ranges of one file
   * interleave between writers. Returns every range reported.
   */
  static List<FileRange> write(PendingCheckpoint pending, Map<String, float[]> values, int writers, long seed)
      throws Exception {
    record Job(CheckpointFile file, int from, int to) {}
    List<List<Job>> jobs = new ArrayList<>();
    for (int w = 0; w < writers; w++) {
      jobs.add(new ArrayList<>());
    }
    Random r = new Random(seed);
    int next = 0;
    for (CheckpointFile f : pending.plan().files()) {
      int n = (int) f.elements();
      for (int from = 0; from < n; ) {
        int to = Math.min(n, from + 1 + r.nextInt(300));
        jobs.get(next++ % writers).add(new Job(f, from, to));
        from = to;
      }
    }
    ExecutorService pool = Executors.newFixedThreadPool(writers);
    try {
      List<Future<List<FileRange>>> futures = new ArrayList<>();
      for (List<Job> mine : jobs) {
        Collections.shuffle(mine, new Random(seed + futures.size()));
        futures.add(pool.submit(() -> {
          List<FileRange> out = new ArrayList<>();
          try (ShardWriter w = ShardWriter.open(pending.dir())) {
            for (Job j : mine) {
              out.add(w.write(j.file.tensor(), j.file.slot(), j.from, values.get(j.file.path()), j.from, j.to - j.from));
            }
          }
          return out;
        }));
      }
      List<FileRange> all = new ArrayList<>();
      for (Future<List<FileRange>> f : futures) {
        all.addAll(f.get());
      }
      return all;
    } finally {
      pool.shutdownNow();
    }
  }

  /** A complete checkpoint of step {@code step} under {@code root}, written by 3 threads. */
  static Path checkpoint(Path root, long step, long seed) throws Exception {
    CheckpointPlan plan = plan();
    PendingCheckpoint p = CheckpointLayout.create(root, step, plan);
    List<FileRange> ranges = write(p, values(plan, seed), 3, seed);
    return ManifestWriter.commit(p, model(step), ranges);
  }
}
