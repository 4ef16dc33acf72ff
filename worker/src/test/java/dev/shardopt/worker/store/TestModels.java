package dev.shardopt.worker.store;

import com.google.protobuf.ByteString;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.engine.ShardSpec;
import dev.shardopt.engine.TensorShape;
import dev.shardopt.engine.device.CpuBackend;
import dev.shardopt.engine.kernel.ParallelApply;
import dev.shardopt.rpc.TensorBytes;
import dev.shardopt.v1.Initializer;
import dev.shardopt.v1.Model;
import dev.shardopt.v1.TensorSpec;
import dev.shardopt.v1.TrainingMode;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/** Builds WorkerModels over whole tensors (one shard each) and pushes into them as the service would. */
final class TestModels implements AutoCloseable {
  final ExecutorService pool = Executors.newCachedThreadPool();
  final ScheduledExecutorService timeouts = Executors.newSingleThreadScheduledExecutor();
  private final List<ExecutorService> stepExecutors = new ArrayList<>();
  final ExecutorService checkpointWriter = Executors.newSingleThreadExecutor();
  final WorkerCheckpoints checkpoints = new WorkerCheckpoints(checkpointWriter, () -> "worker workers/w1");

  /** Tensors by name and initial values, zeros initializer; {@code coordinator} decides. */
  WorkerModel model(Pipeline p, int trainers, TrainingMode mode, int staleness, StepCoordinator coordinator,
      List<String> names, float[]... init) {
    Model.Builder spec = Model.newBuilder().setName("models/m").setPipeline(p.toProto()).setTrainers(trainers)
        .setMode(mode).setStaleness(staleness);
    List<ShardSpec> shards = new ArrayList<>();
    List<Initializer.KindCase> kinds = new ArrayList<>();
    for (int i = 0; i < names.size(); i++) {
      spec.addTensors(TensorSpec.newBuilder().setName(names.get(i)).addShape(init[i].length));
      shards.add(ShardSpec.whole(i, new TensorShape(names.get(i), new long[] {init[i].length})));
      kinds.add(Initializer.KindCase.ZEROS);
    }
    ExecutorService steps = Executors.newSingleThreadExecutor();
    stepExecutors.add(steps);
    return new WorkerModel(spec.build(), shards, List.of(init), kinds, null, coordinator, new CpuBackend(new ParallelApply(pool, 1)),
        new ParallelApply(pool, 1), steps,
        timeouts, checkpoints);
  }

  /**
   * A re-replicated copy of {@link #model}'s shards (SYNC, Adam-like state included) at step boundary
   * {@code step} with the source's counters; its arrays are written next ({@link WorkerModel#writeCopy}).
   */
  WorkerModel copy(Pipeline p, int trainers, StepCoordinator coordinator, List<String> names, int[] lengths, long step,
      long updatesApplied, long stepsSkipped) {
    Model.Builder spec = Model.newBuilder().setName("models/m").setPipeline(p.toProto()).setTrainers(trainers)
        .setMode(TrainingMode.SYNC);
    List<ShardSpec> shards = new ArrayList<>();
    List<Initializer.KindCase> kinds = new ArrayList<>();
    for (int i = 0; i < names.size(); i++) {
      spec.addTensors(TensorSpec.newBuilder().setName(names.get(i)).addShape(lengths[i]));
      shards.add(ShardSpec.whole(i, new TensorShape(names.get(i), new long[] {lengths[i]})));
      kinds.add(Initializer.KindCase.ZEROS);
    }
    ExecutorService steps = Executors.newSingleThreadExecutor();
    stepExecutors.add(steps);
    return new WorkerModel(spec.build(), shards, null, kinds, RestoredShards.copyAt(step, updatesApplied, stepsSkipped),
        coordinator, new CpuBackend(new ParallelApply(pool, 1)), new ParallelApply(pool, 1), steps, timeouts,
        checkpoints);
  }

  /** The checksum the service computes for a gradient sent as one chunk per shard. */
  static long checksum(float[][] gradient) {
    PushChecksum c = new PushChecksum();
    for (int i = 0; i < gradient.length; i++) {
      if (gradient[i] != null) {
        c.add(i, 0, TensorBytes.encode(gradient[i], 0, gradient[i].length));
      }
    }
    return c.value();
  }

  /** A push with its checksum, awaited. */
  static PushAck push(WorkerModel m, int trainer, long step, float[][] gradient) throws Exception {
    return pushAsync(m, trainer, step, gradient, 0, false, 5000).get(10, TimeUnit.SECONDS);
  }

  /** A push sent by shard map {@code epoch}, not awaited. */
  static java.util.concurrent.CompletableFuture<PushAck> pushByEpoch(WorkerModel m, int trainer, long step,
      float[][] gradient, long epoch) {
    return m.push(new GradientPush(trainer, step, gradient, checksum(gradient), 0, false, OptionalLong.empty(), epoch),
        5000);
  }

  static java.util.concurrent.CompletableFuture<PushAck> pushAsync(
      WorkerModel m, int trainer, long step, float[][] gradient, double normSquared, boolean nonFinite, long waitMillis) {
    return m.push(new GradientPush(trainer, step, gradient, checksum(gradient), normSquared, nonFinite, OptionalLong.empty()),
        waitMillis);
  }

  /** Every shard of a pull at min_step, decoded. */
  static float[][] pull(WorkerModel m, long minStep) throws Exception {
    return decode(m.pull(minStep, List.of(), 5000, 1 << 20).get(10, TimeUnit.SECONDS));
  }

  static float[][] decode(ParameterSnapshot s) {
    float[][] out = new float[s.shards().size()][];
    for (int i = 0; i < out.length; i++) {
      out[i] = new float[s.shards().get(i).length()];
      int at = 0;
      for (int c = 0; c < s.chunkCount(i); c++) {
        ByteString b = s.chunk(i, c);
        TensorBytes.decode(b, out[i], at);
        at += b.size() / Float.BYTES;
      }
    }
    return out;
  }

  /** The ApiException {@code call} fails with, directly or through its future. */
  static dev.shardopt.rpc.ApiException refused(java.util.concurrent.Callable<?> call) {
    try {
      call.call();
    } catch (java.util.concurrent.ExecutionException e) {
      if (e.getCause() instanceof dev.shardopt.rpc.ApiException a) {
        return a;
      }
      throw new AssertionError("failed with " + e.getCause(), e);
    } catch (dev.shardopt.rpc.ApiException e) {
      return e;
    } catch (Exception e) {
      throw new AssertionError("failed with " + e, e);
    }
    throw new AssertionError("was not refused");
  }

  @Override
  public void close() {
    stepExecutors.forEach(ExecutorService::shutdownNow);
    pool.shutdownNow();
    timeouts.shutdownNow();
    checkpointWriter.shutdownNow();
  }
}
