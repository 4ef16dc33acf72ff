package dev.shardopt.worker.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.shardopt.dsl.Pipeline;
import dev.shardopt.engine.BlockStatistics;
import dev.shardopt.v1.PipelineGeneration;
import dev.shardopt.v1.PipelineSchedule;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class PipelineTimelineTest {
  private final ExecutorService pool = Executors.newCachedThreadPool();
  private final Pipeline p0 = Pipeline.parse("sgd(1.0)");
  private final Pipeline p1 = Pipeline.parse("sgd(0.5)");
  private final Pipeline p2 = Pipeline.parse("sgd(0.25)");

  @AfterEach
  void stop() {
    pool.shutdownNow();
  }

  private static PipelineGeneration gen(long g, long from, Pipeline p) {
    return PipelineGeneration.newBuilder().setGeneration(g).setFromStep(from).setPipeline(p.toProto()).build();
  }

  /** A coordinator whose schedule answers block until released, counting the calls. */
  private static final class SlowSchedule implements StepCoordinator {
    final CountDownLatch entered = new CountDownLatch(1);
    final CountDownLatch release = new CountDownLatch(1);
    final AtomicInteger calls = new AtomicInteger();
    final List<Long> asked = new ArrayList<>();
    PipelineSchedule answer;

    @Override
    public synchronized PipelineSchedule schedule(String model, long throughStep) {
      calls.incrementAndGet();
      asked.add(throughStep);
      entered.countDown();
      try {
        release.await(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        throw new IllegalStateException(e);
      }
      return answer.toBuilder().setFixedThrough(Math.max(answer.getFixedThrough(), throughStep)).build();
    }

    @Override
    public BarrierDecision decide(String model, long step, long generation, List<BlockStatistics> stats) {
      throw new UnsupportedOperationException();
    }

    @Override
    public void loaded(String model) {}
  }

  @Test
  void startsWithGenerationZeroFixedThroughStepZero() {
    PipelineTimeline t = new PipelineTimeline("models/m", p0, new SlowSchedule());
    assertThat(t.at(0)).isEqualTo(new PipelineTimeline.Generation(0, 0, p0));
    assertThat(t.fixedThrough()).isZero();
    assertThatThrownBy(() -> t.at(1)).hasMessage("the pipeline schedule of models/m is fixed through step 0 only, not 1");
  }

  @Test
  void concurrentCallersShareOneFetchAndTheHighestGenerationWinsAtAStep() throws Exception {
    SlowSchedule c = new SlowSchedule();
    c.answer = PipelineSchedule.newBuilder()
        .addGenerations(gen(0, 0, p0)).addGenerations(gen(1, 3, p1)).addGenerations(gen(2, 3, p2)).setFixedThrough(5).build();
    PipelineTimeline t = new PipelineTimeline("models/m", p0, c);
    List<Future<?>> callers = new ArrayList<>();
    callers.add(pool.submit(() -> t.ensureFixedThrough(4)));
    c.entered.await(10, TimeUnit.SECONDS);
    for (int i = 0; i < 5; i++) {
      callers.add(pool.submit(() -> t.ensureFixedThrough(5)));
    }
    c.release.countDown();
    for (Future<?> f : callers) {
      f.get(10, TimeUnit.SECONDS);
    }
    // one call through 4 fixed it through 5 (the answer's own fixed_through): the others needed none
    assertThat(c.calls.get()).isEqualTo(1);
    assertThat(c.asked).containsExactly(4L);
    assertThat(t.fixedThrough()).isEqualTo(5);
    assertThat(t.at(2).generation()).isZero();
    assertThat(t.at(3)).isEqualTo(new PipelineTimeline.Generation(2, 3, p2));
    assertThat(t.latestGeneration()).isEqualTo(2);
  }

  @Test
  void aDecisionRaisesFixedThroughOnlyWhenItKnowsNoNewerGeneration() {
    PipelineTimeline t = new PipelineTimeline("models/m", p0, new SlowSchedule());
    t.learn(3, 0);
    assertThat(t.fixedThrough()).isEqualTo(3);
    t.learn(7, 1);
    assertThat(t.fixedThrough()).isEqualTo(3);
    t.learn(2, 0);
    assertThat(t.fixedThrough()).isEqualTo(3);
  }
}
