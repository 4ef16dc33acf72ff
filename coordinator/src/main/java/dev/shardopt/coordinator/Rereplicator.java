package dev.shardopt.coordinator;

import dev.shardopt.rpc.ApiException;
import dev.shardopt.v1.CommitCopyRequest;
import dev.shardopt.v1.CopyShardsRequest;
import dev.shardopt.v1.CopyShardsResponse;
import dev.shardopt.v1.CreateShardsRequest;
import dev.shardopt.v1.RestoreSpec;
import dev.shardopt.v1.Shard;
import dev.shardopt.v1.ShardStart;
import dev.shardopt.v1.TensorChunk;
import io.grpc.Context;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Re-replication: copies the under-replicated ranges of each SYNC model onto a healthy worker that
 * holds none of its shards, while training goes on, one model at a time, until every range has its
 * replicas again. One copy ({@link ModelRegistry#planCopy}) at step boundary b:
 *
 * <ol>
 *   <li>every source (the range's primary) is asked for its ranges at b at once (CopyShards): it
 *       holds its pushes of step b and later, unadmitted, and sends its parameters and optimizer
 *       state once it has completed b steps, which no later step can change while it holds;
 *   <li>the new copy is created at b with the sources' counters (CreateShards with copy_of) and
 *       written chunk by chunk (WriteParameters naming the slot), then committed (it checks every
 *       array is complete and takes the map's next epoch);
 *   <li>the copies join the shard map, epoch + 1, and the step barrier waits for the new worker;
 *   <li>each source commits: it takes the new epoch and admits its held pushes, refusing those sent
 *       by an older map (the trainer reads the map and pushes to every copy, the new one included).
 * </ol>
 *
 * So the new copy holds exactly its sources' state after step b - 1 and gets every push of step b
 * on. Any failure before (3) aborts (the sources admit their held pushes as they are, the copy is
 * dropped); a source whose hold ended by itself before (4) withdraws the copy from the map again.
 *
 * <p>Step (3) persists the copy as pending (sources, b, the new epoch) in the same state-dir write
 * as the map, and step (4) is {@link #finishPending}: a coordinator killed between them finds the
 * copy on restart and finishes it in its first round, before it plans any other copy. A source's
 * commit answers only while its hold on b is still in force (or was ended by this very commit
 * earlier, so a repeated commit is answered as done); then no push of b or later was admitted by
 * the old map, and the copy is exact. Any other definite answer (the hold ended after the worker's
 * wait, the model gone there) or a source no longer in the map means the source may have admitted
 * pushes the copy never got: the copy is withdrawn (epoch + 1, its worker fenced off the model and
 * its shards dropped), exactly as the live path does. A source that does not answer
 * (UNAVAILABLE, the deadline) is asked again the next round; it answers in the end, or its hold
 * expires (then it answers FAILED_PRECONDITION), or it is declared dead and leaves the map. So a
 * copy serves and counts toward R only once every source confirmed that it missed nothing.
 */
public final class Rereplicator {
  private static final Logger log = LoggerFactory.getLogger(Rereplicator.class);

  private final ModelRegistry models;
  private final WorkerRegistry workers;
  private final WorkerFleet fleet;
  private final ShardCopier copier;
  private final ExecutorService runner;
  private final AtomicBoolean running = new AtomicBoolean();
  private volatile ScheduledExecutorService timer; // set by start: watches each copy's workers

  /** @param runner where copies run (one at a time), off the timer's thread */
  public Rereplicator(ModelRegistry models, WorkerRegistry workers, WorkerFleet fleet, ShardCopier copier,
      ExecutorService runner) {
    this.models = models;
    this.workers = workers;
    this.fleet = fleet;
    this.copier = copier;
    this.runner = runner;
  }

  /** Looks for under-replicated models every heartbeat interval on {@code timer}, from now on. */
  public void start(ScheduledExecutorService timer) {
    this.timer = timer;
    long period = workers.heartbeatMillis();
    timer.scheduleWithFixedDelay(() -> {
      if (!running.compareAndSet(false, true)) {
        return; // a round is still copying
      }
      try {
        runner.execute(() -> {
          try {
            round();
          } catch (RuntimeException e) { // the next round tries again
            log.warn("re-replication: {}", e.toString());
          } finally {
            running.set(false);
          }
        });
      } catch (RuntimeException e) {
        running.set(false);
      }
    }, period, period, TimeUnit.MILLISECONDS);
  }

  /** One round: a copy for each under-replicated model that has a worker to take it; the lines of what happened. */
  public List<String> round() {
    List<String> lines = new ArrayList<>();
    // a restarted coordinator copies only onto workers that have found it (beaten since it started)
    List<ShardPlanner.WorkerSlot> candidates = workers.healthyWorkers().stream()
        .filter(w -> !workers.awaitingFirstBeat(w.name())).toList();
    for (ModelRegistry.PendingCommit pending : models.pendingCommits()) { // a model with one plans no other copy
      String line = finishPending(pending, true);
      if (line != null) {
        log.info(line);
        lines.add(line);
      }
    }
    for (String name : models.underReplicated()) {
      models.planCopy(name, candidates).ifPresent(plan -> {
        String line = copy(plan);
        log.info(line);
        lines.add(line);
      });
    }
    return lines;
  }

  /** Makes the copy {@code plan} describes, or abandons it; what happened, in one line. */
  String copy(ModelRegistry.CopyPlan plan) {
    String what = plan.model() + ": " + plan.copies().size() + " shard" + (plan.copies().size() == 1 ? "" : "s")
        + " from " + String.join(", ", plan.sources().keySet()) + " to " + plan.target().name() + " at step "
        + plan.step();
    Context.CancellableContext ctx = Context.current().withCancellation();
    boolean created = false;
    try {
      ScheduledFuture<?> watch = watch(plan, ctx);
      try {
        Map<String, Iterator<CopyShardsResponse>> streams = ctx.call(() -> startCopies(plan));
        Map<String, CopyShardsResponse> first = new LinkedHashMap<>();
        streams.forEach((source, stream) -> first.put(source, firstOf(source, stream)));
        CopyShardsResponse counters = sameCounters(plan, first);
        drop(plan); // a copy an earlier attempt left there (its coordinator restarted mid-copy), if any
        created = ctx.call(() -> {
          fleet.createShards(plan.target().address(), CreateShardsRequest.newBuilder().setModel(plan.spec())
              .addAllShards(plan.copies()).setCopyOf(RestoreSpec.newBuilder().setStep(plan.step())
                  .setUpdatesApplied(counters.getUpdatesApplied()).setStepsSkipped(counters.getStepsSkipped()))
              .build());
          return true;
        });
        ctx.call(() -> {
          copier.writeCopy(plan.target().address(), chunks(plan.model(), streams, first));
          copier.commitCopy(plan.target().address(), commit(plan, plan.epoch() + 1, false));
          return null;
        });
      } catch (Exception e) {
        unwatch(watch);
        abort(plan, created);
        return "re-replication of " + what + " abandoned: " + (ctx.isCancelled() && ctx.cancellationCause() != null
            ? ctx.cancellationCause().getMessage() : e.getMessage());
      } finally {
        unwatch(watch);
      }
      long epoch;
      try {
        epoch = models.addCopies(plan);
      } catch (RuntimeException e) {
        abort(plan, true);
        return "re-replication of " + what + " abandoned: " + e.getMessage();
      }
      String line = finishPending(new ModelRegistry.PendingCommit(plan, epoch), false);
      return line != null ? line : "re-replication of " + what + " joined the shard map at epoch " + epoch
          + "; a source did not answer its commit, asked again next round";
    } finally {
      ctx.cancel(null);
      models.copyEnded(plan);
    }
  }

  /**
   * Step 4 of a copy in the shard map: every source commits (takes the new epoch, admits its held
   * pushes), or the copy is withdrawn when one cannot confirm that its hold on the step was in force
   * (see the class comment). Null while a source has not answered: the copy stays pending and the
   * next round asks again.
   *
   * @param later whether the copy was made earlier (by a round before, or a coordinator before a restart)
   */
  String finishPending(ModelRegistry.PendingCommit pending, boolean later) {
    ModelRegistry.CopyPlan plan = pending.plan();
    String what = plan.model() + ": " + plan.copies().size() + " shard" + (plan.copies().size() == 1 ? "" : "s")
        + " from " + String.join(", ", plan.sources().keySet()) + " to " + plan.target().name() + " at step "
        + plan.step();
    List<String> lostHold = new ArrayList<>();
    List<String> unanswered = new ArrayList<>();
    for (String source : plan.sources().keySet()) {
      if (!models.holdsCopies(plan.model(), source)) { // declared dead: what its hold did before is unknown
        lostHold.add("the source " + source + " left the shard map before it committed the copy");
      }
    }
    for (String source : plan.sources().keySet()) {
      if (!lostHold.isEmpty()) { // withdrawn whatever the others answer: their holds end as an abort
        if (models.holdsCopies(plan.model(), source)) {
          unanswered.add(source);
        }
        continue;
      }
      try {
        copier.commitCopy(source, commit(plan, pending.epoch(), false));
      } catch (ApiException e) {
        if (e.code() == io.grpc.Status.Code.UNAVAILABLE || e.code() == io.grpc.Status.Code.DEADLINE_EXCEEDED) {
          unanswered.add(source);
        } else {
          lostHold.add(e.getMessage());
        }
      } catch (RuntimeException e) {
        lostHold.add(e.getMessage());
      }
    }
    if (!lostHold.isEmpty()) {
      for (String source : unanswered) { // a hold still in force ends as an abort would end it
        try {
          copier.commitCopy(source, commit(plan, 0, true));
        } catch (RuntimeException e) {
          log.warn("re-replication of {}: {} (its hold ends by itself)", plan.model(), e.getMessage());
        }
      }
      String why = "its copy of " + plan.model() + " was withdrawn: " + String.join("; ", lostHold);
      long epoch = models.withdrawCopies(plan, why);
      models.copyEnded(plan);
      drop(plan);
      return "re-replication of " + what + " withdrawn (epoch " + epoch + "): "
          + String.join("; ", lostHold);
    }
    if (!unanswered.isEmpty()) {
      log.warn("re-replication of {}: {} did not answer the commit of the copy at epoch {}; asked again next round",
          plan.model(), String.join(", ", unanswered), pending.epoch());
      return null;
    }
    models.copyCommitted(plan);
    models.copyEnded(plan);
    return "re-replication: " + what + " done" + (later ? " by a later round (its sources' commits were pending)" : "")
        + "; the shard map is at epoch " + pending.epoch();
  }

  /**
   * Cancels the copy's calls once its new worker or a source has been silent past the failure
   * timeout ({@link WorkerRegistry#silentAt}): a stalled call would otherwise wait for its deadline,
   * with the sources holding their pushes all that time. Checked each heartbeat interval.
   */
  private ScheduledFuture<?> watch(ModelRegistry.CopyPlan plan, Context.CancellableContext ctx) {
    ScheduledExecutorService t = timer;
    if (t == null) { // not started: rounds run by hand (tests)
      return null;
    }
    long period = workers.heartbeatMillis();
    return t.scheduleWithFixedDelay(() -> {
      List<String> gone = new ArrayList<>();
      if (workers.silentAt(plan.target().address())) {
        gone.add("the new worker " + plan.target().name());
      }
      plan.sources().keySet().stream().filter(workers::silentAt).forEach(s -> gone.add("the source " + s));
      if (!gone.isEmpty()) {
        ctx.cancel(ApiException.unavailable(String.join(" and ", gone) + " stopped answering heartbeats mid-copy"));
      }
    }, period, period, TimeUnit.MILLISECONDS);
  }

  private static void unwatch(ScheduledFuture<?> watch) {
    if (watch != null) {
      watch.cancel(false);
    }
  }

  /** Every source's CopyShards at once, so that each takes its hold before any admits a push of the step. */
  private Map<String, Iterator<CopyShardsResponse>> startCopies(ModelRegistry.CopyPlan plan) {
    Map<String, Iterator<CopyShardsResponse>> streams = new LinkedHashMap<>();
    plan.sources().forEach((source, ranges) -> {
      CopyShardsRequest.Builder request = CopyShardsRequest.newBuilder().setModel(plan.model()).setStep(plan.step());
      for (Shard s : ranges) {
        request.addShards(ShardStart.newBuilder().setTensorIndex(s.getTensorIndex()).setOffset(s.getOffset()));
      }
      streams.put(source, copier.copyShards(source, request.build()));
    });
    return streams;
  }

  private static CopyShardsResponse firstOf(String source, Iterator<CopyShardsResponse> stream) {
    if (!stream.hasNext()) {
      throw ApiException.unavailable("worker " + source + " sent no data for its copy");
    }
    return stream.next();
  }

  /** The sources' counters at the step, which every copy of a SYNC model shares. */
  private static CopyShardsResponse sameCounters(ModelRegistry.CopyPlan plan, Map<String, CopyShardsResponse> first) {
    CopyShardsResponse any = first.values().iterator().next();
    first.forEach((source, c) -> {
      if (c.getStep() != plan.step() || c.getUpdatesApplied() != any.getUpdatesApplied()
          || c.getStepsSkipped() != any.getStepsSkipped()) {
        throw new ApiException(io.grpc.Status.Code.INTERNAL, "the sources of " + plan.model() + "'s copy disagree at step " + plan.step() + ": "
            + source + " is at step " + c.getStep() + " with " + c.getUpdatesApplied() + " updates and "
            + c.getStepsSkipped() + " skipped, another at " + any.getStep() + ", " + any.getUpdatesApplied() + ", "
            + any.getStepsSkipped());
      }
    });
    return any;
  }

  /** Every source's chunks in turn, {@code first} of each first; the model named in the very first. */
  private static Iterator<TensorChunk> chunks(String model, Map<String, Iterator<CopyShardsResponse>> streams,
      Map<String, CopyShardsResponse> first) {
    List<String> sources = new ArrayList<>(streams.keySet());
    return new Iterator<>() {
      int source;
      boolean firstTaken;
      boolean named;

      @Override
      public boolean hasNext() {
        while (source < sources.size()) {
          if (!firstTaken || streams.get(sources.get(source)).hasNext()) {
            return true;
          }
          source++;
          firstTaken = false;
        }
        return false;
      }

      @Override
      public TensorChunk next() {
        if (!hasNext()) {
          throw new NoSuchElementException();
        }
        String s = sources.get(source);
        CopyShardsResponse m = firstTaken ? streams.get(s).next() : first.get(s);
        firstTaken = true;
        TensorChunk c = m.getChunk();
        if (!named) {
          named = true;
          c = c.toBuilder().setModel(model).build();
        }
        return c;
      }
    };
  }

  private static CommitCopyRequest commit(ModelRegistry.CopyPlan plan, long epoch, boolean abort) {
    return CommitCopyRequest.newBuilder().setModel(plan.model()).setStep(plan.step()).setEpoch(epoch).setAbort(abort)
        .build();
  }

  /** Before the copy joined the map: the sources admit their held pushes as they are; the copy is dropped. */
  private void abort(ModelRegistry.CopyPlan plan, boolean created) {
    for (String source : plan.sources().keySet()) {
      try {
        copier.commitCopy(source, commit(plan, 0, true));
      } catch (RuntimeException e) {
        log.warn("re-replication of {}: {} (its hold ends by itself)", plan.model(), e.getMessage());
      }
    }
    if (created) {
      drop(plan);
    }
  }

  private void drop(ModelRegistry.CopyPlan plan) {
    try {
      fleet.dropModel(plan.target().address(), plan.model());
    } catch (RuntimeException e) {
      log.warn("re-replication of {}: could not drop the copy on {}: {}", plan.model(), plan.target().name(),
          e.getMessage());
    }
  }
}
