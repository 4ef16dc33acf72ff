package dev.shardopt.worker.store;

import dev.shardopt.checkpoint.CheckpointException;
import dev.shardopt.checkpoint.FileRange;
import dev.shardopt.dsl.InvalidPipelineException;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.engine.ShardGroup;
import dev.shardopt.engine.ShardSpec;
import dev.shardopt.engine.device.DeviceBackend;
import dev.shardopt.engine.kernel.ParallelApply;
import dev.shardopt.rpc.ApiException;
import dev.shardopt.v1.Initializer;
import dev.shardopt.v1.Model;
import dev.shardopt.v1.PipelineGeneration;
import dev.shardopt.v1.TrainingMode;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ScheduledExecutorService;
import java.util.stream.LongStream;

/**
 * One model's shards on one worker, as the Worker service sees it: wires the parts (shard data,
 * pipeline timeline, exactly-once ledger, SYNC or ASYNC protocol, uploads, pulls) and is their one
 * entry point. Calls that wait (pulls, SSP pushes) return futures: no thread waits with them.
 */
public final class WorkerModel {
  private final Model spec;
  private final ModelShards shards;
  private final PipelineTimeline timeline;
  private final PushLedger ledger;
  private final PushProtocol protocol;
  private final UploadTracker uploads;
  private final GradientPool gradients;
  private final SnapshotCache snapshots;
  private final VersionWaiters completed;
  private final VersionWaiters slowest;
  private final ModelLifecycle lifecycle;
  private final StepCoordinator coordinator;
  private final AsyncSteps async; // null for SYNC models
  private final SyncSteps sync; // null for ASYNC models
  private final CopyIn copyIn; // null unless the shards are a re-replicated copy
  private final ScheduledExecutorService timeouts;
  private final CheckpointSnapshots checkpoints;
  private final List<FileRange> restoredFrom;

  /**
   * @param shards this worker's shards of the model, each with its initial values
   * @param initializers each shard's tensor's initializer kind
   * @param restored the shards as a checkpoint holds them (then {@code initial} is unused), or null
   * @param device where the shards live; their arrays are allocated here and freed by {@link #drop}
   * @param parallel checks the incoming heap gradients
   * @param timeouts runs the timeouts of waiting pulls, pushes and snapshots
   * @throws dev.shardopt.engine.device.DeviceMemoryException when the device has not the memory;
   *     nothing stays allocated then
   */
  public WorkerModel(
      Model spec, List<ShardSpec> shards, List<float[]> initial, List<Initializer.KindCase> initializers,
      RestoredShards restored, StepCoordinator coordinator, DeviceBackend device, ParallelApply parallel,
      ExecutorService stepExecutor, ScheduledExecutorService timeouts, WorkerCheckpoints checkpoints) {
    this.spec = spec;
    String name = spec.getName();
    boolean isAsync = spec.getMode() == TrainingMode.ASYNC;
    int trainers = Math.max(1, spec.getTrainers());
    Pipeline pipeline;
    try {
      pipeline = Pipeline.fromProto(spec.getPipeline());
    } catch (InvalidPipelineException e) {
      throw ApiException.invalidArgument("pipeline: " + e.getMessage());
    }
    List<String> tensorNames = spec.getTensorsList().stream().map(t -> t.getName()).toList();
    this.coordinator = coordinator;
    long firstStep = restored == null ? 0 : restored.step();
    List<FileRange> read = List.of();
    if (restored != null) {
      checkRestoredPushes(name, isAsync, trainers, restored);
    }
    if (restored == null) {
      this.timeline = new PipelineTimeline(name, pipeline, coordinator);
      this.shards = new ModelShards(name, tensorNames,
          new ShardGroup(pipeline, shards, initial, isAsync ? 1 : trainers, device, parallel));
      this.ledger = new PushLedger(name, trainers, 4096, 0);
    } else {
      // SYNC: the next step is fixed. ASYNC: every trainer's next push is (the highest of them).
      long fixedThrough = isAsync ? LongStream.of(restored.nextPush()).max().orElse(0) : firstStep;
      long resumeAt = isAsync ? LongStream.of(restored.nextPush()).min().orElse(0) : firstStep;
      this.timeline = PipelineTimeline.restored(name, spec.getPipelineScheduleCount() > 0 ? spec.getPipelineScheduleList()
          : List.of(PipelineGeneration.newBuilder().setPipeline(spec.getPipeline()).build()), fixedThrough, coordinator);
      PipelineTimeline.Generation at = timeline.at(resumeAt);
      ShardGroup group = new ShardGroup(at.pipeline(), shards, null, isAsync ? 1 : trainers, device, parallel);
      try {
        read = restored.load().into(group);
        group.restore(restored.updatesApplied(), restored.stepsSkipped());
      } catch (RuntimeException e) {
        group.close();
        throw e;
      }
      this.shards = new ModelShards(name, tensorNames, group, firstStep, at.generation());
      this.ledger = isAsync ? new PushLedger(name, 4096, restored.nextPush())
          : new PushLedger(name, trainers, 4096, firstStep);
    }
    this.uploads = new UploadTracker(name, shards, initializers, restored != null);
    this.gradients = new GradientPool(shards, trainers + 1);
    this.snapshots = new SnapshotCache(this.shards);
    this.completed = new VersionWaiters(timeouts);
    this.slowest = new VersionWaiters(timeouts);
    completed.advanceTo(firstStep);
    slowest.advanceTo(ledger.slowest());
    this.lifecycle = new ModelLifecycle(name);
    lifecycle.onEnd(completed::failAll);
    lifecycle.onEnd(slowest::failAll);
    ProtocolParts parts = new ProtocolParts(name, this.shards, ledger,
        new PushAdmission(name, trainers, timeline, this.shards), completed, lifecycle, gradients);
    this.async = isAsync ? new AsyncSteps(parts, spec.getStaleness(), slowest, timeouts) : null;
    this.sync = isAsync ? null : new SyncSteps(parts, trainers, timeline, coordinator, stepExecutor, firstStep);
    this.protocol = isAsync ? async : sync;
    this.copyIn = restored != null && restored.copy() ? new CopyIn(name, shards, this.shards.stateSlots()) : null;
    this.timeouts = timeouts;
    if (async != null) {
      lifecycle.onEnd(async::end); // held pushes then fail as every later call does
    }
    this.checkpoints = new CheckpointSnapshots(name, this.shards, completed, lifecycle, checkpoints, timeouts);
    this.restoredFrom = read;
  }

  /**
   * The byte ranges of the checkpoint's files this model's shards were read from, each with the
   * CRC32C of the bytes read (empty when not restored): CreateShards answers them, and the
   * coordinator checks them against the manifest.
   */
  public List<FileRange> restoredFrom() {
    return restoredFrom;
  }

  /** A restore's exactly-once bookkeeping must be its mode's: next_push for ASYNC, one per trainer, summing to step. */
  private static void checkRestoredPushes(String name, boolean isAsync, int trainers, RestoredShards restored) {
    long[] next = restored.nextPush();
    if (!isAsync) {
      if (next.length != 0) {
        throw ApiException.invalidArgument("restore.next_push is for ASYNC models; " + name + " is SYNC (its restore.step"
            + " is the next step of every trainer)");
      }
      return;
    }
    if (next.length != trainers) {
      throw ApiException.invalidArgument("restore.next_push has " + next.length + " entries, but " + name + " has "
          + trainers + " trainers: an ASYNC restore names every trainer's next push");
    }
    long sum = LongStream.of(next).sum();
    if (sum != restored.step()) {
      throw ApiException.invalidArgument("restore.step " + restored.step() + " of " + name + " is not the sum of"
          + " restore.next_push " + java.util.Arrays.toString(next) + " (" + sum + ")");
    }
  }

  public String name() {
    return spec.getName();
  }

  public Model spec() {
    return spec;
  }

  public List<ShardSpec> shards() {
    return shards.shards();
  }

  /** Completed steps (SYNC) or pushes applied (ASYNC). */
  public long version() {
    return shards.version();
  }

  public long pushesReceived() {
    return ledger.received();
  }

  public long duplicatesReceived() {
    return ledger.duplicates();
  }

  /** t, as published after the last step: never waits for a running one. */
  public long updatesApplied() {
    return shards.updatesApplied();
  }

  public long stepsSkipped() {
    return shards.stepsSkipped();
  }

  /** Pulls waiting for their step. */
  public int waitingPulls() {
    return completed.waiting();
  }

  /** Pushes waiting for slower trainers (SSP). */
  public int waitingPushes() {
    return slowest.waiting();
  }

  /** The schedule through which this worker knows the model's pipelines. */
  public long fixedThrough() {
    return timeline.fixedThrough();
  }

  /** The shard holding {@code [offset, offset + count)} of {@code tensor}. */
  public int shardFor(String tensor, long offset, int count) {
    return shards.shardFor(tensor, offset, count);
  }

  /**
   * Arrays for one trainer's gradient, one per shard, reused from earlier pushes (stale contents).
   * Hand them back with {@link #release} if the push is not made; {@link #push} takes them over.
   */
  public float[][] newGradient() {
    return gradients.take();
  }

  public void release(float[][] gradient) {
    gradients.release(gradient);
  }

  /**
   * Writes initial values of an upload tensor; allowed until the shards are loaded.
   *
   * @throws ApiException FAILED_PRECONDITION for a tensor with a generated initializer, or once loaded
   */
  public void writeParameters(String tensor, long offset, float[] values) {
    lifecycle.check();
    int i = shards.shardFor(tensor, offset, values.length);
    int from = (int) (offset - shards.shards().get(i).offset());
    if (uploads.write(i, from, values.length, () -> shards.writeParameters(i, from, values))) {
      coordinator.loaded(name());
    }
  }

  /**
   * One trainer's gradient for one step, covering every shard on this worker (a frozen tensor's may
   * be null). Idempotent per (trainer, step): the same data again is acknowledged as a duplicate,
   * other data is refused with ALREADY_EXISTS. Takes the gradient arrays over.
   *
   * @param waitMillis how long an SSP push may wait for slower trainers
   */
  public CompletableFuture<PushAck> push(GradientPush p, long waitMillis) {
    CompletableFuture<PushAck> ack;
    try {
      int trainers = Math.max(1, spec.getTrainers());
      if (p.trainer() < 0 || p.trainer() >= trainers) {
        throw ApiException.invalidArgument("trainer " + p.trainer() + " is out of range: " + name() + " has " + trainers
            + " trainers (0.." + (trainers - 1) + ")");
      }
      lifecycle.check();
      checkServing();
      if (!uploads.loaded()) {
        throw ApiException.failedPrecondition(
            name() + " is waiting for its initial values: write them with WriteParameters before the first push");
      }
      ack = protocol.push(p, waitMillis);
    } catch (RuntimeException e) {
      ack = CompletableFuture.failedFuture(e);
    }
    return ack.handle((a, e) -> {
      if (e != null || a.duplicate()) {
        gradients.release(p.gradient()); // not kept
      }
      if (e != null) {
        throw new CompletionException(unwrap(e));
      }
      return a;
    });
  }

  /**
   * The shards of {@code tensors} (all when empty) once {@code minStep} steps are complete.
   *
   * @param chunkFloats elements per chunk
   */
  public CompletableFuture<ParameterSnapshot> pull(long minStep, List<String> tensors, long waitMillis, int chunkFloats) {
    return pull(minStep, tensors, List.of(), waitMillis, chunkFloats);
  }

  /**
   * As {@link #pull(long, List, long, int)}, only the shards that start at {@code starts} (tensor
   * index, offset) when it is not empty: a replicated model's client pulls each shard from one copy.
   *
   * @throws ApiException NOT_FOUND (in the future) naming a start where this worker holds no shard
   *     (the client's shard map is stale: it reads it again)
   */
  public CompletableFuture<ParameterSnapshot> pull(long minStep, List<String> tensors, List<long[]> starts,
      long waitMillis, int chunkFloats) {
    try {
      shards.checkTensors(tensors);
      checkStarts(starts);
      lifecycle.check();
      checkServing();
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
    return completed.await(minStep, waitMillis, () -> ApiException.deadlineExceeded("step " + minStep + " of " + name()
            + " is not complete after " + waitMillis + " ms (" + protocol.progress() + "); are all "
            + Math.max(1, spec.getTrainers()) + " trainers pushing?"))
        .thenApply(reached -> {
          lifecycle.check();
          return snapshots.snapshot(tensors, starts, chunkFloats);
        });
  }

  /** Pull snapshots handed out whose sending has not ended yet (their buffers are not reused until it has). */
  public int snapshotsInUse() {
    return snapshots.referenced();
  }

  /** Snapshot buffers allocated so far: flat while new versions reuse those of versions no pull reads. */
  public long snapshotBuffersAllocated() {
    return snapshots.allocated();
  }

  /** A copy still being written serves nothing: the shard map does not list it yet. */
  private void checkServing() {
    if (copyIn != null && !copyIn.committed()) {
      throw ApiException.unavailable(name() + " is still being copied onto this worker (re-replication); read the"
          + " shard map again");
    }
  }

  // ---------------------------------------------------------------- re-replication

  /** Where {@link #sendCopy} puts each run of an array: {@code n} values of {@code values}, from {@code offset} of the tensor. */
  @FunctionalInterface
  public interface CopySink {
    void accept(ShardSpec shard, String slot, long offset, float[] values, int n);
  }

  /**
   * SYNC, re-replication at step boundary {@code step} (a multiple of the pipeline's accumulate): holds
   * the pushes of {@code step} and later at once (until {@link #commitCopy}, or for {@code
   * waitMillis}), then completes once the model has completed {@code step} steps, so that {@link
   * #sendCopy} reads exactly the state there.
   *
   * @throws ApiException (in the future) FAILED_PRECONDITION for an ASYNC model, when a push of {@code
   *     step} or later is admitted already, or another copy is being taken; NOT_FOUND for a start where
   *     this worker holds no shard; DEADLINE_EXCEEDED when the step is not reached within the wait
   */
  public CompletableFuture<Void> holdForCopy(long step, List<long[]> starts, long waitMillis) {
    try {
      checkStarts(starts);
      int k = shards.accumulate();
      if (step % k != 0) {
        throw ApiException.invalidArgument("step " + step + " of " + name() + " is not an update boundary: a copy's"
            + " step must be a multiple of the pipeline's accumulate " + k);
      }
      syncSteps().holdFrom(step, waitMillis, timeouts);
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
    return completed.await(step, waitMillis, () -> ApiException.deadlineExceeded("step " + step + " of " + name()
        + " is not complete after " + waitMillis + " ms (" + protocol.progress() + "); the copy waits for it"))
        .thenApply(reached -> null);
  }

  /**
   * Hands the parameters and every state slot of the shards starting at {@code starts}, at step
   * boundary {@code step} (reached and held: {@link #holdForCopy}), to {@code sink} in runs of at
   * most {@code chunkFloats}, read through the shards' {@link ShardGroup#read} a run at a time.
   */
  public void sendCopy(long step, List<long[]> starts, int chunkFloats, CopySink sink) {
    float[] buffer = new float[chunkFloats];
    try {
      shards.snapshot(step, shards.accumulate(), (shard, slot, length, values) -> {
        boolean wanted = starts.stream().anyMatch(st -> st[0] == shard.tensorIndex() && st[1] == shard.offset());
        for (long from = 0; wanted && from < length; from += chunkFloats) {
          int n = (int) Math.min(chunkFloats, length - from);
          values.read(from, buffer, n);
          sink.accept(shard, slot, shard.offset() + from, buffer, n);
        }
      });
    } catch (CheckpointException e) { // the sink writes no file
      throw new IllegalStateException(e);
    }
  }

  /**
   * Ends a copy. On the worker the copy was taken from: with {@code abort}, the held pushes are
   * admitted as they are; otherwise the worker takes the shard map's {@code epoch} first (a push
   * sent by an older map is refused from now on). The same commit repeated (a coordinator restarted
   * before it knew every source had committed) is answered as done. On the new copy: checks it is
   * complete, takes {@code epoch} and serves.
   *
   * @throws ApiException FAILED_PRECONDITION when the source's hold on {@code step} had ended (the
   *     copy may have missed pushes: abort it), or the new copy is incomplete
   */
  public void commitCopy(long step, long epoch, boolean abort) {
    lifecycle.check();
    SyncSteps s = syncSteps();
    if (copyIn != null && !copyIn.committed()) {
      if (abort) {
        throw ApiException.failedPrecondition(name() + " is an uncommitted copy on this worker; drop it (DropModel)"
            + " to abort it");
      }
      copyIn.commit();
      s.takeEpoch(epoch);
      return;
    }
    if (abort) {
      s.endHold(step, -1);
      return;
    }
    if (!s.endHold(step, epoch)) {
      throw ApiException.failedPrecondition(name() + " no longer holds its pushes of step " + step + " on this worker"
          + " (the hold ended after the wait, or was never taken): the copy may have missed pushes; abort it");
    }
  }

  /** Writes {@code values} into the copy being made on this worker: {@code slot} "" for the parameters. */
  public void writeCopy(String tensor, String slot, long offset, float[] values) {
    lifecycle.check();
    if (copyIn == null || copyIn.committed()) {
      throw ApiException.failedPrecondition("chunk.slot is for a copy being made (CreateShards with copy_of, before"
          + " CommitCopy); " + name() + " is not one on this worker");
    }
    int i = shards.shardFor(tensor, offset, values.length);
    int from = (int) (offset - shards.shards().get(i).offset());
    int array = copyIn.arrayOf(slot);
    copyIn.write(i, array, from, values.length, () -> shards.writeArray(i, array, from, values));
  }

  /** Whether this model's shards are a copy still being written. */
  public boolean copying() {
    return copyIn != null && !copyIn.committed();
  }

  private SyncSteps syncSteps() {
    if (sync == null) {
      throw ApiException.failedPrecondition(name() + " is ASYNC: only SYNC models have copies (replicas)");
    }
    return sync;
  }

  private void checkStarts(List<long[]> starts) {
    for (long[] st : starts) {
      boolean held = shards.shards().stream().anyMatch(s -> s.tensorIndex() == st[0] && s.offset() == st[1]);
      if (!held) {
        throw ApiException.notFound(name() + " has no shard of tensor " + st[0] + " starting at element " + st[1]
            + " on this worker; read the shard map again (GetShardMap)");
      }
    }
  }

  /**
   * SYNC, phase one of a checkpoint: once {@code step} (an update boundary) is complete, writes the
   * shards' parameters and optimizer state into the checkpoint attempt directory {@code dir}, whose
   * files the coordinator created, without forcing them to disk (the copy lands in the page cache);
   * the future holds the bytes written. Waits first for this model's earlier checkpoint to be
   * persisted.
   *
   * @param waitMillis bounds each wait (DEADLINE_EXCEEDED naming the step and the steps completed)
   */
  public CompletableFuture<Long> snapshotShards(long step, Path dir, long waitMillis) {
    if (async != null) {
      return CompletableFuture.failedFuture(ApiException.failedPrecondition(name() + " is ASYNC: its shards are copied"
          + " at a cut of the trainers' pushes (HoldPushes, then SnapshotShards with next_push), not at a step"));
    }
    return checkpoints.snapshot(step, dir, waitMillis);
  }

  /**
   * ASYNC, phase zero of a checkpoint: once this model's earlier checkpoint is persisted, stops
   * applying its pushes (they wait, unacknowledged) and answers each trainer's next push index. The
   * hold ends by itself, every held push applied, unless {@link #copyAtCut} completes it within
   * {@code waitMillis}.
   */
  public CompletableFuture<long[]> holdPushes(long waitMillis) {
    return asyncSteps().thenCompose(a -> {
      lifecycle.check();
      int k = shards.accumulate();
      if (k != 1) { // a cut could split an accumulation window, whose partial sum no checkpoint holds
        throw ApiException.failedPrecondition(name() + " accumulates " + k + " pushes per update: an ASYNC checkpoint"
            + " needs accumulate 1 (a cut could fall inside a window)");
      }
      return checkpoints.afterPersist("the hold of the next checkpoint", waitMillis)
          .thenApply(ignored -> a.hold(waitMillis));
    });
  }

  /** ASYNC: ends the hold on this model's pushes, if any, without a copy (the checkpoint failed elsewhere). */
  public void releasePushes() {
    if (async == null) {
      throw notAsync();
    }
    async.end(new ApiException(io.grpc.Status.Code.ABORTED, "the coordinator released the hold on the"
        + " pushes of " + name() + ": the checkpoint failed on another worker"));
  }

  /**
   * ASYNC, phase one: the cut, per trainer r the number {@code cut[r]} of its pushes to capture.
   * Applies the held pushes below it; once exactly pushes 0 .. cut[r]-1 of every trainer r are
   * applied, writes the shards into the checkpoint attempt directory {@code dir}, unforced (kept for
   * {@link #persistShards} at step {@code step}), and applies the held pushes beyond the cut.
   *
   * @param step the sum of {@code cut}
   */
  public CompletableFuture<ShardCopy> copyAtCut(long step, long[] cut, Path dir) {
    long sum = LongStream.of(cut).sum();
    if (sum != step) {
      return CompletableFuture.failedFuture(ApiException.invalidArgument("step " + step + " is not the sum of next_push "
          + java.util.Arrays.toString(cut) + " (" + sum + "): an ASYNC checkpoint's step is the pushes it captures"));
    }
    return asyncSteps().thenCompose(a -> a.copyAt(cut, dir)).handle((copy, failure) -> {
      if (failure != null) {
        Throwable cause = failure instanceof CompletionException ? failure.getCause() : failure;
        if (cause instanceof java.io.UncheckedIOException u && u.getCause() instanceof CheckpointException c) {
          throw checkpoints.writeFailure("its shards of the checkpoint at the cut " + java.util.Arrays.toString(cut)
              + " of " + name(), c);
        }
        throw cause instanceof RuntimeException r ? r : new CompletionException(cause);
      }
      checkpoints.keep(copy);
      return new ShardCopy(copy.step(), copy.bytes(), copy.counters().updatesApplied(),
          copy.counters().stepsSkipped());
    });
  }

  /** ASYNC: each trainer's next push index on this worker; empty for a SYNC model. */
  public long[] nextPushes() {
    return async == null ? new long[0] : async.nextPushes();
  }

  /**
   * Phase two: forces the snapshot of {@code step} in {@code dir} to disk off the caller's thread,
   * then drops it; the future holds the ranges written with their CRC32Cs. A failure leaves
   * training alone.
   */
  public CompletableFuture<List<FileRange>> persistShards(long step, Path dir) {
    return checkpoints.persist(step, dir);
  }

  private CompletableFuture<AsyncSteps> asyncSteps() {
    return async != null ? CompletableFuture.completedFuture(async) : CompletableFuture.failedFuture(notAsync());
  }

  private ApiException notAsync() {
    return ApiException.failedPrecondition(name() + " is SYNC: its checkpoints capture a step boundary (SnapshotShards"
        + " with the step); HoldPushes and next_push are for ASYNC models");
  }

  /** Marks the model failed: waiting pulls and pushes, and later calls, get UNAVAILABLE with the reason. */
  public void fail(String reason) {
    lifecycle.fail(reason);
  }

  /**
   * The coordinator fenced this worker off the model (it was declared dead, or its copy withdrawn):
   * the model fails as {@link #fail} does, so that it serves and applies nothing more under the
   * shard map it knew. Returns whether it had not failed before.
   */
  public boolean fenceOff(String reason) {
    return lifecycle.fail(reason);
  }

  /**
   * The model was deleted: every later call gets NOT_FOUND, and the shards' device arrays are freed
   * (once a running step is done).
   */
  public void drop() {
    lifecycle.drop();
    shards.close();
  }

  /** The cause a future failed with, without CompletionException's wrapping. */
  public static Throwable unwrap(Throwable e) {
    while (e instanceof CompletionException && e.getCause() != null) {
      e = e.getCause();
    }
    return e;
  }
}
