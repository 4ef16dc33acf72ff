package dev.shardopt.worker.store;

import com.google.protobuf.ByteString;
import dev.shardopt.dsl.InvalidPipelineException;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.rpc.ApiException;
import dev.shardopt.rpc.TensorBytes;
import dev.shardopt.v1.Model;
import dev.shardopt.v1.TrainingMode;
import dev.shardopt.engine.InvalidGradientException;
import dev.shardopt.engine.ShardGroup;
import dev.shardopt.engine.ShardSpec;
import dev.shardopt.engine.BlockStatistics;
import dev.shardopt.engine.StepDecider;
import dev.shardopt.engine.UpdateDecision;
import dev.shardopt.engine.kernel.ParallelApply;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * One model's shards on one worker, and the protocol around them: exactly-once pushes keyed by
 * (trainer, step), the synchronous step (all K trainers' pushes, then statistics to the
 * coordinator, then its decision applied), the asynchronous step (applied on arrival, with an
 * optional staleness bound), versioned pulls, initial uploads and pipeline changes at a step.
 *
 * <p>In SYNC mode, pushes for step {@code s} are collected until all K have arrived; the step then
 * runs on this model's step executor, in step order, while pushes for {@code s + 1} may already be
 * collected. {@code version} counts completed steps: a pull at min_step {@code s} waits for it.
 *
 * <p>Locks: {@code group} (the shards' data) is always taken before {@code lock} (the bookkeeping);
 * never the other way round.
 */
public final class WorkerModel {
  private final String name;
  private final Model spec;
  private final boolean async;
  private final int trainers;
  private final ShardGroup group;
  private final List<String> tensorNames;
  private final StepCoordinator coordinator;
  private final ExecutorService stepExecutor;

  private final java.util.ArrayDeque<float[][]> freeGradients = new java.util.ArrayDeque<>();
  private final Object lock = new Object();
  // ---- guarded by lock
  private long version;
  private long nextStep; // SYNC: the step collecting pushes
  private final TreeMap<Long, PendingStep> pending = new TreeMap<>();
  private final long[] pushed; // ASYNC: pushes received per trainer
  private final TreeMap<Long, Pipeline> pipelineChanges = new TreeMap<>();
  private final BitSet[] uploaded;
  private boolean loaded;
  private String failure;
  private boolean dropped;
  private long pushesReceived;
  private long duplicates;

  private static final class PendingStep {
    final float[][][] gradients;
    int received;

    PendingStep(int trainers) {
      gradients = new float[trainers][][];
    }
  }

  /**
   * @param shards this worker's shards of the model, each with its initial values
   * @param tensorNames every tensor of the model, by index (for messages)
   */
  public WorkerModel(
      Model spec, List<ShardSpec> shards, List<float[]> initial, boolean needsUpload,
      List<String> tensorNames, StepCoordinator coordinator, ParallelApply parallel,
      ExecutorService stepExecutor) {
    this.name = spec.getName();
    this.spec = spec;
    this.async = spec.getMode() == TrainingMode.ASYNC;
    this.trainers = Math.max(1, spec.getTrainers());
    Pipeline pipeline;
    try {
      pipeline = Pipeline.fromProto(spec.getPipeline());
    } catch (InvalidPipelineException e) {
      throw ApiException.invalidArgument("pipeline: " + e.getMessage());
    }
    this.group = new ShardGroup(pipeline, shards, initial, async ? 1 : trainers, parallel);
    this.tensorNames = List.copyOf(tensorNames);
    this.coordinator = coordinator;
    this.stepExecutor = stepExecutor;
    this.pushed = new long[trainers];
    this.uploaded = new BitSet[shards.size()];
    this.loaded = !needsUpload;
  }

  public String name() {
    return name;
  }

  public Model spec() {
    return spec;
  }

  public List<ShardSpec> shards() {
    return group.shards();
  }

  public long version() {
    synchronized (lock) {
      return version;
    }
  }

  public long pushesReceived() {
    synchronized (lock) {
      return pushesReceived;
    }
  }

  public long duplicatesReceived() {
    synchronized (lock) {
      return duplicates;
    }
  }

  public long updatesApplied() {
    synchronized (group) {
      return group.updatesApplied();
    }
  }

  public long stepsSkipped() {
    synchronized (group) {
      return group.stepsSkipped();
    }
  }

  // ---------------------------------------------------------------- shard lookup

  /** Whether shard {@code i} is frozen under the pipeline in effect now (its gradient may be left out). */
  public boolean frozen(int i) {
    synchronized (group) {
      return group.frozen(i);
    }
  }

  /** The shard holding {@code [offset, offset + count)} of {@code tensor}. */
  public int shardFor(String tensor, long offset, int count) {
    List<ShardSpec> all = group.shards();
    for (int i = 0; i < all.size(); i++) {
      ShardSpec s = all.get(i);
      if (s.name().equals(tensor) && offset >= s.offset() && offset + count <= (long) s.offset() + s.length()) {
        return i;
      }
    }
    boolean known = all.stream().anyMatch(s -> s.name().equals(tensor));
    if (!known) {
      throw ApiException.notFound(
          tensorNames.contains(tensor)
              ? "tensor '" + tensor + "' of " + name + " has no shard on this worker; send it to the worker the shard map names"
              : "tensor '" + tensor + "' not found in " + name + " (tensors: " + String.join(", ", tensorNames) + ")");
    }
    throw ApiException.outOfRange("elements [" + offset + ", " + (offset + count) + ") of '" + tensor
        + "' are not inside one shard on this worker (shards: " + shardRanges(tensor) + ")");
  }

  private String shardRanges(String tensor) {
    List<String> r = new ArrayList<>();
    for (ShardSpec s : group.shards()) {
      if (s.name().equals(tensor)) {
        r.add("[" + s.offset() + ", " + (s.offset() + s.length()) + ")");
      }
    }
    return String.join(", ", r);
  }

  /**
   * Arrays for one trainer's gradient, one per shard, reused from earlier steps when possible (their
   * contents are stale: a push overwrites every element). Hand them back with {@link #release}
   * when the push was not stored; stored ones come back after their step.
   */
  public float[][] newGradient() {
    float[][] g;
    synchronized (freeGradients) {
      g = freeGradients.poll();
    }
    List<ShardSpec> all = group.shards();
    if (g == null) {
      g = new float[all.size()][];
    }
    for (int i = 0; i < g.length; i++) {
      if (g[i] == null) {
        g[i] = new float[all.get(i).length()];
      }
    }
    return g;
  }

  /** Returns gradient arrays for reuse. */
  public void release(float[][] gradient) {
    synchronized (freeGradients) {
      if (freeGradients.size() <= trainers) {
        freeGradients.push(gradient);
      }
    }
  }

  // ---------------------------------------------------------------- uploads

  /** Writes initial values; allowed until the shards are loaded. */
  public void writeParameters(String tensor, long offset, float[] values) {
    int i = shardFor(tensor, offset, values.length);
    ShardSpec s = group.shard(i);
    boolean nowLoaded;
    synchronized (group) {
      synchronized (lock) {
        checkUsable();
        if (loaded) {
          throw ApiException.failedPrecondition(
              name + " is already loaded on this worker; initial values can only be written before the first push");
        }
        int from = (int) (offset - s.offset());
        group.writeParameters(i, from, values);
        if (uploaded[i] == null) {
          uploaded[i] = new BitSet(s.length());
        }
        uploaded[i].set(from, from + values.length);
        nowLoaded = allUploaded();
        loaded = nowLoaded;
      }
    }
    if (nowLoaded) {
      coordinator.loaded(name);
    }
  }

  private boolean allUploaded() {
    for (int i = 0; i < uploaded.length; i++) {
      int len = group.shard(i).length();
      if (len > 0 && (uploaded[i] == null || uploaded[i].cardinality() != len)) {
        return false;
      }
    }
    return true;
  }

  // ---------------------------------------------------------------- pipeline changes

  /** Uses {@code next} from step {@code atStep} on; the step must not have started. */
  public void setPipeline(Pipeline next, long atStep) {
    synchronized (lock) {
      checkUsable();
      long started = async ? version : nextStep;
      if (atStep < started || (!async && pending.containsKey(atStep))) {
        throw ApiException.failedPrecondition("step " + atStep + " of " + name
            + " has already started (the model is at step " + version + "); choose a later step");
      }
      Pipeline current = pipelineChanges.isEmpty() ? group.pipeline() : pipelineChanges.lastEntry().getValue();
      try {
        ShardGroup.checkCompatible(current, next);
      } catch (IllegalArgumentException e) {
        throw ApiException.failedPrecondition(e.getMessage());
      }
      pipelineChanges.put(atStep, next);
    }
  }

  // ---------------------------------------------------------------- pushes

  /**
   * One trainer's gradient for {@code step}, covering every shard on this worker. Idempotent per
   * (trainer, step).
   *
   * @param normSquared ASYNC: the trainer's squared global gradient norm (after clipValue)
   * @param nonFinite ASYNC: whether the trainer's gradient has a NaN or Inf
   */
  public PushAck push(int trainer, long step, float[][] gradient, double normSquared, boolean nonFinite, long waitMillis)
      throws InterruptedException {
    if (trainer < 0 || trainer >= trainers) {
      throw ApiException.invalidArgument(
          "trainer " + trainer + " is out of range: " + name + " has " + trainers + " trainers (0.." + (trainers - 1) + ")");
    }
    return async ? pushAsync(trainer, step, gradient, normSquared, nonFinite, waitMillis) : pushSync(trainer, step, gradient);
  }

  private PushAck pushSync(int trainer, long step, float[][] gradient) {
    PendingStep ready = null;
    long readyStep = -1;
    validate(trainer, gradient);
    synchronized (lock) {
      checkUsable();
      checkLoaded();
      pushesReceived++;
      if (step < nextStep || (pending.containsKey(step) && pending.get(step).gradients[trainer] != null)) {
        duplicates++;
        return new PushAck(step, true, version);
      }
      if (step > nextStep) {
        throw ApiException.failedPrecondition("trainer " + trainer + " pushed step " + step + ", but " + name
            + " is collecting step " + nextStep + " (completed " + version + "); pull, then push step " + nextStep);
      }
      PendingStep p = pending.computeIfAbsent(step, s -> new PendingStep(trainers));
      p.gradients[trainer] = gradient;
      p.received++;
      if (p.received == trainers) {
        ready = p;
        readyStep = step;
        nextStep++;
      }
    }
    if (ready != null) {
      final PendingStep run = ready;
      final long s = readyStep;
      stepExecutor.execute(() -> runSyncStep(s, run));
    }
    synchronized (lock) {
      return new PushAck(step, false, version);
    }
  }

  private void validate(int trainer, float[][] gradient) {
    try {
      synchronized (group) {
        group.validate(trainers == 1 ? 0 : trainer, gradient);
      }
    } catch (InvalidGradientException e) {
      String msg = e.getMessage();
      if (trainers > 1 && !msg.startsWith("trainer ")) {
        msg = "trainer " + trainer + ": " + msg;
      }
      throw ApiException.invalidArgument(msg);
    }
  }

  private void runSyncStep(long step, PendingStep p) {
    try {
      applyPipelineChange(step);
      ShardGroup.PreparedStep prepared;
      List<BlockStatistics> stats = null;
      synchronized (group) {
        prepared = group.prepare(List.of(p.gradients));
        if (prepared != null) {
          stats = group.statistics(prepared);
        }
      }
      UpdateDecision d = prepared == null ? null : coordinator.decide(name, step, stats);
      synchronized (group) {
        if (d != null) {
          group.apply(prepared, d);
        }
        synchronized (lock) {
          pending.remove(step);
          version = step + 1;
          lock.notifyAll();
        }
      }
      for (float[][] g : p.gradients) {
        release(g);
      }
    } catch (RuntimeException e) {
      fail("step " + step + " failed: " + e.getMessage());
    }
  }

  private void applyPipelineChange(long step) {
    Pipeline next;
    synchronized (lock) {
      next = pipelineChanges.remove(step);
    }
    if (next != null) {
      synchronized (group) {
        group.setPipeline(next);
      }
    }
  }

  private PushAck pushAsync(int trainer, long step, float[][] gradient, double normSquared, boolean nonFinite, long waitMillis)
      throws InterruptedException {
    synchronized (lock) {
      checkUsable();
      checkLoaded();
      pushesReceived++;
      if (step < pushed[trainer]) {
        duplicates++;
        return new PushAck(step, true, version);
      }
      if (step > pushed[trainer]) {
        throw ApiException.failedPrecondition("trainer " + trainer + " pushed step " + step + ", but its next step on "
            + name + " is " + pushed[trainer] + "; pushes of one trainer come in order");
      }
      long bound = spec.getStaleness();
      long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(waitMillis);
      while (bound > 0 && step > minPushed() + bound) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          throw ApiException.deadlineExceeded("trainer " + trainer + " is at step " + step + ", more than the staleness bound "
              + bound + " ahead of the slowest trainer (at " + minPushed() + "); it waited " + waitMillis + " ms");
        }
        TimeUnit.NANOSECONDS.timedWait(lock, left);
        checkUsable();
      }
    }
    validate(trainer, gradient);
    synchronized (group) {
      long at;
      synchronized (lock) {
        checkUsable();
        if (step < pushed[trainer]) { // the same push raced in on another stream
          duplicates++;
          return new PushAck(step, true, version);
        }
        at = version;
      }
      applyPipelineChange(at);
      ShardGroup.PreparedStep prepared = group.prepare(List.<float[][]>of(gradient));
      if (prepared != null) {
        group.apply(prepared, StepDecider.decideAsync(group.pipeline(), group.updatesApplied(), normSquared, nonFinite));
      }
      release(gradient); // prepare copied it into the window, or apply has read it
      synchronized (lock) {
        pushed[trainer]++;
        version++;
        lock.notifyAll();
        return new PushAck(step, false, version);
      }
    }
  }

  private long minPushed() {
    long m = Long.MAX_VALUE;
    for (long p : pushed) {
      m = Math.min(m, p);
    }
    return m;
  }

  // ---------------------------------------------------------------- pulls

  /**
   * This worker's shards at one version, already in wire form: per shard, its chunks of
   * little-endian float32. Built once per version and shared by every pull of it.
   */
  public record Snapshot(long step, List<ShardSpec> shards, List<List<ByteString>> chunks) {}

  private Snapshot latest; // guarded by group
  private int latestChunkFloats; // guarded by group

  /**
   * Waits until {@code minStep} steps are complete, then returns the shards of {@code tensors}
   * (all when empty) at the current version.
   *
   * @param chunkFloats elements per chunk
   */
  public Snapshot pull(long minStep, List<String> tensors, long waitMillis, int chunkFloats) throws InterruptedException {
    for (String t : tensors) {
      if (!tensorNames.contains(t)) {
        throw ApiException.notFound("tensor '" + t + "' not found in " + name + " (tensors: " + String.join(", ", tensorNames) + ")");
      }
    }
    synchronized (lock) {
      long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(waitMillis);
      while (version < minStep) {
        checkUsable();
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          throw ApiException.deadlineExceeded("step " + minStep + " of " + name + " is not complete after " + waitMillis
              + " ms (completed " + version + ", collecting " + nextStep + "); are all " + trainers + " trainers pushing?");
        }
        TimeUnit.NANOSECONDS.timedWait(lock, left);
      }
      checkUsable();
    }
    Snapshot all;
    synchronized (group) {
      long at;
      synchronized (lock) {
        at = version;
      }
      if (latest == null || latest.step() != at || latestChunkFloats != chunkFloats) {
        List<List<ByteString>> chunks = new ArrayList<>();
        for (int i = 0; i < group.size(); i++) {
          float[] p = group.parametersView(i);
          List<ByteString> c = new ArrayList<>();
          for (int from = 0; from < p.length; from += chunkFloats) {
            c.add(TensorBytes.encode(p, from, Math.min(chunkFloats, p.length - from)));
          }
          chunks.add(c);
        }
        latest = new Snapshot(at, group.shards(), chunks);
        latestChunkFloats = chunkFloats;
      }
      all = latest;
    }
    if (tensors.isEmpty()) {
      return all;
    }
    List<ShardSpec> shards = new ArrayList<>();
    List<List<ByteString>> chunks = new ArrayList<>();
    for (int i = 0; i < all.shards().size(); i++) {
      if (tensors.contains(all.shards().get(i).name())) {
        shards.add(all.shards().get(i));
        chunks.add(all.chunks().get(i));
      }
    }
    return new Snapshot(all.step(), shards, chunks);
  }

  // ---------------------------------------------------------------- lifecycle

  /** Marks the model failed: waiting pulls and later pushes get UNAVAILABLE with the reason. */
  public void fail(String reason) {
    synchronized (lock) {
      if (failure == null) {
        failure = reason;
      }
      lock.notifyAll();
    }
  }

  /** The model was deleted: every later call gets NOT_FOUND. */
  public void drop() {
    synchronized (lock) {
      dropped = true;
      lock.notifyAll();
    }
  }

  private void checkUsable() {
    if (dropped) {
      throw ApiException.notFound(name + " was deleted");
    }
    if (failure != null) {
      throw ApiException.unavailable(name + " failed on this worker: " + failure);
    }
  }

  private void checkLoaded() {
    if (!loaded) {
      throw ApiException.failedPrecondition(
          name + " is waiting for its initial values: write them with WriteParameters before the first push");
    }
  }
}
