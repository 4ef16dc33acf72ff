package dev.shardopt.worker.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.dsl.Pipeline;
import dev.shardopt.engine.ShardGroup;
import dev.shardopt.engine.ShardSpec;
import dev.shardopt.engine.TensorShape;
import dev.shardopt.engine.UpdateDecision;
import dev.shardopt.engine.device.CpuBackend;
import dev.shardopt.engine.kernel.ParallelApply;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class ModelShardsTest {
  private final ExecutorService pool = Executors.newCachedThreadPool();
  private final Pipeline sgd = Pipeline.parse("sgd(1.0).skipNonFinite()");
  private final ModelShards shards = new ModelShards("models/m", List.of("w"), new ShardGroup(sgd,
      List.of(ShardSpec.whole(0, new TensorShape("w", new long[] {1}))), List.of(new float[] {0}), 1,
      new CpuBackend(new ParallelApply(pool, 1)), new ParallelApply(pool, 1)));
  private final PipelineTimeline.Generation g0 = new PipelineTimeline.Generation(0, 0, sgd);

  @AfterEach
  void stop() {
    pool.shutdownNow();
  }

  @Test
  void countersArePublishedAfterEachStepAndReadWithoutTheMonitor() throws Exception {
    ModelShards.Prepared p = shards.prepare(g0, List.<float[][]>of(new float[][] {{2}}));
    shards.finish(p, new UpdateDecision(UpdateDecision.Action.APPLY, 0, 1.0, 1f, 2, null));
    ModelShards.Prepared q = shards.prepare(g0, List.<float[][]>of(new float[][] {{Float.NaN}}));
    shards.finish(q, new UpdateDecision(UpdateDecision.Action.SKIP, 1, Double.NaN, 1f, Double.NaN, "NaN"));
    CountDownLatch held = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Future<?> kernelPass = pool.submit(() -> {
      synchronized (shards) { // what a running step holds
        held.countDown();
        release.await();
      }
      return null;
    });
    held.await();
    Future<long[]> heartbeat = pool.submit(() -> new long[] {shards.version(), shards.updatesApplied(), shards.stepsSkipped()});
    assertThat(heartbeat.get(5, TimeUnit.SECONDS)).containsExactly(2, 1, 1);
    release.countDown();
    kernelPass.get(5, TimeUnit.SECONDS);
  }

  @Test
  void aStepIsPreparedUnderItsGenerationAndFinishRefusesAnother() {
    Pipeline decay = Pipeline.parse("sgd(1.0).skipNonFinite().weightDecay(0.5)");
    ModelShards.Prepared p = shards.prepare(new PipelineTimeline.Generation(1, 0, decay), List.<float[][]>of(new float[][] {{0}}));
    assertThat(p.generation()).isEqualTo(1);
    shards.finish(p, new UpdateDecision(UpdateDecision.Action.APPLY, 0, 1.0, 1f, 0, null));
    ModelShards.Prepared stale = new ModelShards.Prepared(p.step(), p.statistics(), 0);
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> shards.finish(stale, new UpdateDecision(UpdateDecision.Action.APPLY, 1, 1.0, 1f, 0, null)))
        .hasMessage("the shards of models/m run generation 1, not 0 that the step was prepared under");
  }
}
