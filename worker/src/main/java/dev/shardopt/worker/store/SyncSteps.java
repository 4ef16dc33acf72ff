package dev.shardopt.worker.store;

import dev.shardopt.engine.UpdateDecision;
import dev.shardopt.rpc.ApiException;
import java.util.List;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * The synchronous protocol: pushes for step {@code s} are collected until all K trainers have sent
 * theirs; the step then runs on the model's step executor, in step order, under the pipeline
 * generation in force at {@code s}, through the coordinator's barrier, while pushes for {@code s + 1}
 * may already be collected.
 */
final class SyncSteps implements PushProtocol {
  private final int trainers;
  private final PipelineTimeline timeline;
  private final StepCoordinator coordinator;
  private final Executor stepExecutor;

  private final ProtocolParts parts;
  private final Object lock = new Object();
  // ---- guarded by lock
  private long collecting;
  private final TreeMap<Long, float[][][]> pending = new TreeMap<>();

  /** @param firstStep the first step to collect (0, or a restored model's checkpoint step) */
  SyncSteps(ProtocolParts parts, int trainers, PipelineTimeline timeline, StepCoordinator coordinator,
      Executor stepExecutor, long firstStep) {
    this.parts = parts;
    this.collecting = firstStep;
    this.trainers = trainers;
    this.timeline = timeline;
    this.coordinator = coordinator;
    this.stepExecutor = stepExecutor;
  }

  @Override
  public CompletableFuture<PushAck> push(GradientPush p, long waitMillis) {
    synchronized (lock) {
      parts.receive();
      PushAck known = duplicateOrRefused(p);
      if (known != null) {
        return CompletableFuture.completedFuture(known);
      }
    }
    parts.admission().admit(p); // outside the lock: it may ask the coordinator for the schedule
    float[][][] ready = null;
    synchronized (lock) {
      parts.lifecycle().check();
      PushAck known = duplicateOrRefused(p); // the same push may have raced in on another stream
      if (known != null) {
        return CompletableFuture.completedFuture(known);
      }
      parts.ledger().record(p.trainer(), p.step(), p.checksum());
      float[][][] step = pending.computeIfAbsent(p.step(), s -> new float[trainers][][]);
      step[p.trainer()] = p.gradient();
      if (parts.ledger().slowest() > p.step()) {
        ready = step;
        collecting++;
      }
    }
    if (ready != null) {
      float[][][] run = ready;
      stepExecutor.execute(() -> run(p.step(), run));
    }
    return CompletableFuture.completedFuture(new PushAck(p.step(), false, parts.shards().version()));
  }

  /** A duplicate's ack, null for a new push of the collecting step; anything else is refused. */
  private PushAck duplicateOrRefused(GradientPush p) {
    PushAck duplicate = parts.duplicateAck(p);
    if (duplicate != null) {
      return duplicate;
    }
    if (p.step() != collecting) {
      throw ApiException.failedPrecondition("trainer " + p.trainer() + " pushed step " + p.step() + ", but " + parts.model()
          + " is collecting step " + collecting + " (completed " + parts.shards().version() + "); pull, then push step " + collecting);
    }
    return null;
  }

  private void run(long step, float[][][] gradients) {
    try {
      PipelineTimeline.Generation at = timeline.at(step);
      ModelShards.Prepared prepared = parts.shards().prepare(at, List.of(gradients));
      UpdateDecision update = null;
      if (prepared.decides()) {
        BarrierDecision d = coordinator.decide(parts.model(), step, at.generation(), prepared.statistics());
        if (d.generation() != at.generation()) {
          throw new IllegalStateException("the coordinator decided it under pipeline generation " + d.generation()
              + ", but this worker prepared it under generation " + at.generation());
        }
        timeline.learn(d.fixedThrough(), d.latestGeneration());
        update = d.update();
      }
      parts.shards().finish(prepared, update);
      synchronized (lock) {
        pending.remove(step);
      }
      for (float[][] g : gradients) {
        parts.pool().release(g);
      }
      parts.completed().advanceTo(parts.shards().version());
    } catch (RuntimeException e) {
      parts.lifecycle().fail("step " + step + " failed: " + e.getMessage());
    }
  }

  @Override
  public String progress() {
    synchronized (lock) {
      return "completed " + parts.shards().version() + ", collecting " + collecting;
    }
  }
}
