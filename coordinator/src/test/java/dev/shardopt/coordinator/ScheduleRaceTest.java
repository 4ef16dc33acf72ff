package dev.shardopt.coordinator;

import static dev.shardopt.coordinator.ModelRegistryTest.finiteStep;
import static dev.shardopt.coordinator.ModelRegistryTest.fixedThrough;
import static dev.shardopt.coordinator.ModelRegistryTest.stat;
import static dev.shardopt.coordinator.ModelRegistryTest.twoWorkerModel;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.shardopt.coordinator.ScheduleLockHooks.Phase;
import dev.shardopt.coordinator.ScheduleLockHooks.Section;
import dev.shardopt.dsl.Optimizers;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.rpc.ApiException;
import dev.shardopt.v1.Model;
import dev.shardopt.v1.PipelineGeneration;
import dev.shardopt.v1.PipelineSchedule;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * UpdatePipeline(at_step = s) raced against its two rivals, the decision of step s - 1 and
 * GetPipelineSchedule(s), in each interleaving forced with {@link ScheduleLockHooks}. The invariant:
 * the change is accepted iff it took the model's lock before the rival (so no worker could have
 * started step s); accepted, step s is decided under it; refused, nothing changed.
 */
class ScheduleRaceTest {
  private static final int ITERATIONS = 200;
  private static final long WAIT_SECONDS = 10;
  private static final String M = "models/m";

  /** How the change and its rival take the model's lock. */
  enum Interleaving {
    /** The rival waits before the lock while the change runs. */
    CHANGE_FIRST(true),
    /** The rival has released the lock when the change starts. */
    RIVAL_FIRST(false),
    /** The change reaches the lock while the rival holds it, its effect not yet visible. */
    CHANGE_WAITS_FOR_RIVAL(false),
    /** The rival reaches the lock while the change holds it. */
    RIVAL_WAITS_FOR_CHANGE(true);

    final boolean changeAccepted;

    Interleaving(boolean changeAccepted) {
      this.changeAccepted = changeAccepted;
    }
  }

  /** Hooks that note, or pause until opened, the first thread to reach a (section, phase). */
  static final class Gates implements ScheduleLockHooks {
    static final class Gate {
      final Section section;
      final Phase phase;
      final boolean hold;
      final AtomicBoolean claimed = new AtomicBoolean();
      final CountDownLatch reached = new CountDownLatch(1);
      final CountDownLatch opened = new CountDownLatch(1);

      Gate(Section section, Phase phase, boolean hold) {
        this.section = section;
        this.phase = phase;
        this.hold = hold;
      }

      void awaitReached() {
        await(reached, "a thread reaches " + section + " " + phase);
      }

      void open() {
        opened.countDown();
      }
    }

    private final List<Gate> gates = new CopyOnWriteArrayList<>();

    Gate hold(Section section, Phase phase) {
      Gate g = new Gate(section, phase, true);
      gates.add(g);
      return g;
    }

    Gate note(Section section, Phase phase) {
      Gate g = new Gate(section, phase, false);
      gates.add(g);
      return g;
    }

    void clear() {
      gates.forEach(Gate::open);
      gates.clear();
    }

    @Override
    public void at(Section section, Phase phase, String model, long step) {
      for (Gate g : gates) {
        if (g.section == section && g.phase == phase && g.claimed.compareAndSet(false, true)) {
          g.reached.countDown();
          if (g.hold) {
            await(g.opened, "the test opens " + section + " " + phase);
          }
        }
      }
    }
  }

  /** A call on its own thread; {@link #get} is its value, or an ApiException it threw as a value. */
  static final class Racer<T> {
    private final CompletableFuture<T> result = new CompletableFuture<>();
    final Thread thread;

    Racer(String name, Callable<T> call) {
      thread = new Thread(() -> {
        try {
          result.complete(call.call());
        } catch (Throwable t) {
          result.completeExceptionally(t);
        }
      }, name);
      thread.setDaemon(true);
      thread.start();
    }

    T get() {
      try {
        return result.get(WAIT_SECONDS, TimeUnit.SECONDS);
      } catch (ExecutionException e) {
        throw new AssertionError(thread.getName() + " failed: " + e.getCause(), e.getCause());
      } catch (TimeoutException | InterruptedException e) {
        throw new AssertionError(thread.getName() + " did not finish within " + WAIT_SECONDS + " s", e);
      }
    }
  }

  /** UpdatePipeline's outcome: the model it returned, or its refusal. */
  record ChangeOutcome(Model accepted, ApiException refused) {}

  record Raced<R>(ChangeOutcome change, R rival) {}

  private final Gates gates = new Gates();
  private final WorkerRegistry workers = new WorkerRegistry(500, 6, () -> 1_000_000);
  private ScheduledExecutorService timer;
  private ModelRegistry registry;
  /** What the schedule must hold, kept by the test from the interleavings it forced. */
  private final List<PipelineGeneration> expected = new ArrayList<>();

  @BeforeEach
  void start() {
    timer = Executors.newSingleThreadScheduledExecutor();
    workers.register("host1:7001");
    workers.register("host2:7002");
    registry = new ModelRegistry(workers, new ModelRegistryTest.FakeFleet(), timer, CoordinatorConfig.defaults(),
        gates, () -> 0);
    registry.create("m", twoWorkerModel("sgd(0.1)"));
    expected.add(ModelRegistryTest.generation(0, 0, "sgd(0.1)"));
  }

  @AfterEach
  void stop() throws InterruptedException {
    gates.clear();
    timer.shutdownNow();
    assertThat(timer.awaitTermination(5, TimeUnit.SECONDS)).isTrue();
  }

  private static void await(CountDownLatch latch, String what) {
    try {
      if (!latch.await(WAIT_SECONDS, TimeUnit.SECONDS)) {
        throw new AssertionError("not within " + WAIT_SECONDS + " s: " + what);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  /** Waits until {@code t} is blocked on a monitor: the model's lock, as it passed the LOCKING hook. */
  private static void awaitBlocked(Thread t) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
    while (t.getState() != Thread.State.BLOCKED) {
      if (System.nanoTime() > deadline || !t.isAlive()) {
        throw new AssertionError(t.getName() + " never blocked on the model's lock; it is " + t.getState());
      }
      Thread.sleep(1);
    }
  }

  private static ChangeOutcome outcome(Callable<Model> change) throws Exception {
    try {
      return new ChangeOutcome(change.call(), null);
    } catch (ApiException e) {
      return new ChangeOutcome(null, e);
    }
  }

  /** Runs {@code change} (an UpdatePipeline) and {@code rivalCall} (in {@code rival}) in {@code order}. */
  private <R> Raced<R> race(Interleaving order, Section rival, Callable<R> rivalCall, Callable<Model> change)
      throws Exception {
    Racer<R> rivalRacer;
    ChangeOutcome outcome;
    switch (order) {
      case CHANGE_FIRST, RIVAL_FIRST -> {
        Gates.Gate g = gates.hold(rival, order == Interleaving.CHANGE_FIRST ? Phase.LOCKING : Phase.RELEASED);
        rivalRacer = new Racer<>("rival", rivalCall);
        g.awaitReached();
        outcome = outcome(change);
        g.open();
      }
      case CHANGE_WAITS_FOR_RIVAL -> {
        Gates.Gate held = gates.hold(rival, Phase.HOLDING);
        Gates.Gate arriving = gates.note(Section.UPDATE, Phase.LOCKING);
        rivalRacer = new Racer<>("rival", rivalCall);
        held.awaitReached();
        Racer<ChangeOutcome> changeRacer = new Racer<>("change", () -> outcome(change));
        arriving.awaitReached();
        awaitBlocked(changeRacer.thread);
        held.open();
        outcome = changeRacer.get();
      }
      case RIVAL_WAITS_FOR_CHANGE -> {
        Gates.Gate held = gates.hold(Section.UPDATE, Phase.HOLDING);
        Gates.Gate arriving = gates.note(rival, Phase.LOCKING);
        Racer<ChangeOutcome> changeRacer = new Racer<>("change", () -> outcome(change));
        held.awaitReached();
        rivalRacer = new Racer<>("rival", rivalCall);
        arriving.awaitReached();
        awaitBlocked(rivalRacer.thread);
        held.open();
        outcome = changeRacer.get();
      }
      default -> throw new AssertionError(order);
    }
    R rivalResult = rivalRacer.get();
    gates.clear();
    return new Raced<>(outcome, rivalResult);
  }

  /** The learning rate of iteration i's change, which no other iteration uses. */
  private static double lr(int i) {
    return (i + 1) / 1024.0;
  }

  private static Pipeline change(int i) {
    return Optimizers.sgd(lr(i));
  }

  private long newestGeneration() {
    return expected.get(expected.size() - 1).getGeneration();
  }

  /** The test's own reading of the schedule it expects: the highest generation started by {@code step}. */
  private PipelineGeneration expectedAt(long step) {
    PipelineGeneration in = expected.get(0);
    for (PipelineGeneration g : expected) {
      if (g.getFromStep() <= step) {
        in = g;
      }
    }
    return in;
  }

  /** Checks the change's outcome against the interleaving, and records an accepted one as expected. */
  private void checkChange(Interleaving order, ChangeOutcome outcome, int i, long atStep) {
    if (order.changeAccepted) {
      assertThat(outcome.refused()).as("%s, iteration %d: accepted", order, i).isNull();
      expected.add(PipelineGeneration.newBuilder().setGeneration(newestGeneration() + 1).setFromStep(atStep)
          .setPipeline(change(i).toProto()).build());
      assertThat(outcome.accepted().getPipelineScheduleList()).isEqualTo(expected);
    } else {
      assertThat(outcome.accepted()).as("%s, iteration %d: refused", order, i).isNull();
      assertThat(outcome.refused().code()).isEqualTo(Status.Code.FAILED_PRECONDITION);
      assertThat(outcome.refused()).hasMessageContaining("at_step " + atStep + " of " + M)
          .hasMessageContaining("fixed through step " + atStep)
          .hasMessageContaining("choose at_step " + (atStep + 1) + " or later");
    }
    assertThat(registry.get(M).getPipelineScheduleList()).as("%s, iteration %d: the schedule", order, i)
        .isEqualTo(expected);
    assertThat(fixedThrough(registry, M)).as("%s, iteration %d: the horizon", order, i).isEqualTo(atStep);
  }

  @Test
  void aChangeAtTheNextStepIsAcceptedIffItTakesTheLockBeforeTheDecisionOfThisOne() throws Exception {
    Interleaving[] orders = Interleaving.values();
    for (int i = 0; i < ITERATIONS; i++) {
      Interleaving order = orders[i % orders.length];
      long prev = 2L * i;
      long s = prev + 1; // fixed through prev now: the decision of prev - 1 raised it there
      long prevGeneration = expectedAt(prev).getGeneration();
      RecordingReply w1 = new RecordingReply();
      RecordingReply w2 = new RecordingReply();
      registry.reportStep(M, "workers/w1", prev, prevGeneration, List.of(stat(0, 0, 0.0625)), w1);
      Pipeline next = change(i);
      Raced<Void> raced = race(order, Section.DECISION, () -> {
        registry.reportStep(M, "workers/w2", prev, prevGeneration, List.of(stat(0, 1, 0.1875)), w2);
        return null;
      }, () -> registry.updatePipeline(M, next.toProto(), s));

      checkChange(order, raced.change(), i, s);
      DecidedStep decidedPrev = w1.decision();
      assertThat(w2.decision()).isSameAs(decidedPrev);
      assertThat(decidedPrev).extracting(DecidedStep::step, DecidedStep::generation, DecidedStep::fixedThrough,
          DecidedStep::latestGeneration).containsExactly(prev, prevGeneration, s, newestGeneration());

      long generationAtS = order.changeAccepted ? newestGeneration() : prevGeneration;
      DecidedStep decidedS = finiteStep(registry, M, s, generationAtS);
      assertThat(decidedS.generation()).isEqualTo(generationAtS);
      assertThat(decidedS.decision().learningRate()).as("%s, iteration %d: lr at step %d", order, i, s)
          .isCloseTo(order.changeAccepted ? lr(i) : expectedAt(prev).getPipeline().getSgd().getLr(), within(1e-15));
      assertThat(registry.metrics(M, s).getStepsList()).singleElement()
          .satisfies(m -> assertThat(m.getGeneration()).isEqualTo(generationAtS));
    }
    assertThat(newestGeneration()).isEqualTo(ITERATIONS / 2);
  }

  @Test
  void aChangeAtAStepIsAcceptedIffItTakesTheLockBeforeGetPipelineScheduleFixesThatStep() throws Exception {
    Interleaving[] orders = Interleaving.values();
    for (int i = 0; i < ITERATIONS; i++) {
      Interleaving order = orders[i % orders.length];
      long s = i + 1; // fixed through i now
      Pipeline next = change(i);
      Raced<PipelineSchedule> raced = race(order, Section.FIX, () -> registry.pipelineSchedule(M, s),
          () -> registry.updatePipeline(M, next.toProto(), s));

      checkChange(order, raced.change(), i, s);
      assertThat(raced.rival()).as("%s, iteration %d: the worker's copy", order, i)
          .isEqualTo(PipelineSchedule.newBuilder().addAllGenerations(expected).setFixedThrough(s).build());
    }
    assertThat(newestGeneration()).isEqualTo(ITERATIONS / 2);
  }
}
