package dev.shardopt.coordinator;

import dev.shardopt.coordinator.ScheduleLockHooks.Phase;
import dev.shardopt.coordinator.ScheduleLockHooks.Section;
import dev.shardopt.dsl.InvalidPipelineException;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.engine.BlockStatistics;
import dev.shardopt.engine.InitialValues;
import dev.shardopt.engine.StepDecider;
import dev.shardopt.engine.UpdateKernels;
import dev.shardopt.engine.UpdateDecision;
import dev.shardopt.engine.kernel.ReductionBlocks;
import dev.shardopt.rpc.ApiException;
import dev.shardopt.v1.CheckpointManifest;
import dev.shardopt.v1.CheckpointRange;
import dev.shardopt.v1.CreateShardsRequest;
import dev.shardopt.v1.Initializer;
import dev.shardopt.v1.Model;
import dev.shardopt.v1.ModelMetrics;
import dev.shardopt.v1.ModelProgress;
import dev.shardopt.v1.ModelRecordState;
import dev.shardopt.v1.ReplicationStatus;
import dev.shardopt.v1.ModelState;
import dev.shardopt.v1.OptimizerPipeline;
import dev.shardopt.v1.PendingCopy;
import dev.shardopt.v1.PipelineGeneration;
import dev.shardopt.v1.PipelineSchedule;
import dev.shardopt.v1.RestoreSpec;
import dev.shardopt.v1.Shard;
import dev.shardopt.v1.ShardMap;
import dev.shardopt.v1.StepMetrics;
import dev.shardopt.v1.TensorSpec;
import dev.shardopt.v1.TrainingMode;
import dev.shardopt.v1.WorkerIdentity;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import java.util.stream.LongStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The models of the cluster: creation (validation, placement, shards on workers), the shard map,
 * each model's pipeline schedule, its step barrier and decisions, and per-step metrics.
 *
 * <p>Locking: the models map is guarded by this registry's monitor, and everything that changes in
 * one model (schedule, loaded workers, counters, metrics, failure) by that model's {@link Record}
 * monitor; the two are never held together, a Record's is taken inside its barrier's (decisions,
 * timeouts) and never the other way round, and no worker is called (RPC) under any of them.
 */
public final class ModelRegistry {
  private static final Logger log = LoggerFactory.getLogger(ModelRegistry.class);
  private static final Pattern MODEL_ID = Pattern.compile("[a-z0-9][a-z0-9._-]{0,62}");
  static final int METRICS_KEPT = 100_000;
  /**
   * Decisions a state dir keeps per model: a retried report is of a step at most one behind the
   * newest decided (each worker reports one step at a time), so a few are plenty.
   */
  static final int DECISIONS_KEPT = 8;

  /** One model, as the coordinator knows it. */
  private final class Record {
    final Model spec;
    /** Every copy of every range, primary first; replaced whole (under this Record) when a worker is lost. */
    volatile List<Shard> shards;
    final List<String> tensorNames;
    /** Address by worker name, for the workers holding shards; replaced whole with {@link #shards}. */
    volatile Map<String, String> addresses;
    /** The workers that hold shards of an upload tensor and must report loaded. */
    final Set<String> uploadWorkers = new HashSet<>();
    final StepBarrier barrier;

    // The fields above never change after construction; those below are guarded by this Record.
    final GenerationSchedule schedule;
    final Set<String> loaded = new HashSet<>();
    final Deque<StepMetrics> metrics = new ArrayDeque<>();
    long updates;
    long skipped;
    /** The first step not decided yet (steps are decided in order: a worker reports one at a time). */
    long nextStep;
    String failure;
    /** The last {@link #DECISIONS_KEPT} decisions, oldest first, for the state dir. */
    final Deque<DecidedStep> decided = new ArrayDeque<>();
    /** This run of the model (CheckpointManifest.model_incarnation): new at create and restore. */
    String incarnation = UUID.randomUUID().toString();
    /** ShardMap.epoch: bumped when a worker is lost. */
    long epoch;
    /** The path of the model's latest committed checkpoint, or null. */
    String latestCheckpoint;
    /** The workers declared dead that held copies, in order. */
    final List<String> lostWorkers = new ArrayList<>();
    /** Ranges being copied to a new worker now (re-replication), and copies made so far. */
    int copying;
    long copiesMade;
    /**
     * A copy in the shard map whose sources were not all committed yet (between its steps 3 and 4),
     * persisted with the map so that a restarted coordinator finishes or withdraws it; null when none.
     */
    PendingCopy pendingCopy;

    /** @param restore where a restored model continues from, or null for a new one */
    Record(Model spec, List<Shard> shards, GenerationSchedule schedule, RestoreSpec restore) {
      this.spec = spec;
      this.shards = List.copyOf(shards);
      this.addresses = addressesOf(shards);
      this.tensorNames = spec.getTensorsList().stream().map(TensorSpec::getName).toList();
      this.schedule = schedule;
      if (restore != null) {
        updates = restore.getUpdatesApplied();
        skipped = restore.getStepsSkipped();
        nextStep = restore.getStep();
      }
      for (Shard s : shards) {
        if (restore == null && s.getLength() > 0
            && spec.getTensors(s.getTensorIndex()).getInit().getKindCase() == Initializer.KindCase.UPLOAD) {
          uploadWorkers.add(s.getWorker());
        }
      }
      this.barrier = new StepBarrier(spec.getName(), addresses.keySet(), timer, config.barrierTimeoutMillis(),
          this::decide, this::timedOut, nanoTime);
    }

    /** A model as the state dir recorded it: it continues where it was, its in-flight step rebuilt from retried reports. */
    Record(ModelRecordState saved) {
      this(saved.getSpec(), saved.getShardsList(), savedSchedule(saved), null);
      uploadWorkers.clear();
      uploadWorkers.addAll(saved.getUploadWorkersList());
      loaded.addAll(saved.getLoadedList());
      updates = saved.getUpdatesApplied();
      skipped = saved.getStepsSkipped();
      nextStep = saved.getNextStep();
      for (var d : saved.getRecentDecisionsList()) {
        DecidedStep step = DecidedStep.fromProto(d);
        decided.addLast(step);
        barrier.remember(step);
      }
      if (!saved.getIncarnation().isEmpty()) {
        incarnation = saved.getIncarnation();
      }
      epoch = saved.getEpoch();
      latestCheckpoint = saved.getLatestCheckpoint().isEmpty() ? null : saved.getLatestCheckpoint();
      lostWorkers.addAll(saved.getLostWorkersList());
      for (String lost : lostWorkers) {
        barrier.removeParticipant(lost, lostWhy(lost));
      }
      if (!saved.getFailure().isEmpty()) {
        failure = saved.getFailure();
        barrier.close(ApiException.unavailable(failure));
      }
      if (saved.hasPendingCopy()) { // the copy's step 4 is the re-replicator's first job after the restart
        pendingCopy = saved.getPendingCopy();
        copying = pendingCopy.getCopiesCount();
        copiesMade = copying; // in the map already, counted as when it joined (a withdrawal takes it off)
      }
    }

    String name() {
      return spec.getName();
    }

    /** What the state dir keeps of this model; under its lock. */
    ModelRecordState state() {
      ModelRecordState.Builder b = ModelRecordState.newBuilder().setSpec(spec).addAllShards(shards).setSchedule(schedule.toProto())
          .setUpdatesApplied(updates).setStepsSkipped(skipped).setNextStep(nextStep)
          .addAllRecentDecisions(decided.stream().map(DecidedStep::toProto).toList())
          .addAllUploadWorkers(new TreeSet<>(uploadWorkers)).addAllLoaded(new TreeSet<>(loaded))
          .setFailure(failure == null ? "" : failure).setIncarnation(incarnation).setEpoch(epoch)
          .addAllLostWorkers(lostWorkers).setLatestCheckpoint(latestCheckpoint == null ? "" : latestCheckpoint);
      if (pendingCopy != null) {
        b.setPendingCopy(pendingCopy);
      }
      return b.build();
    }

    String lostWhy(String worker) {
      return worker + " was declared dead (it missed its heartbeats for " + failureTimeoutMillis()
          + " ms) and the copies of its shards on other workers took over";
    }

    /** Makes the model's state durable (with a state dir) before the caller answers anyone; under its lock. */
    void persist() {
      store.saveModel(state());
    }

    /**
     * Phase two, once per step (under the barrier's lock): under the pipeline the schedule has in
     * force at the step, and in the same critical section as a pipeline change, so that no change
     * can come at the next step once this one is decided.
     */
    DecidedStep decide(StepBarrier.CompletedRound round) {
      long step = round.step();
      return locked(this, Section.DECISION, step, () -> {
        GenerationSchedule.Generation g = schedule.at(step);
        checkGenerations(round, g);
        UpdateDecision d = StepDecider.decide(g.pipeline(), updates, round.statistics(), tensorNames);
        long updatesBefore = updates;
        long skippedBefore = skipped;
        long nextBefore = nextStep;
        if (d.applies()) {
          updates++;
        } else {
          skipped++;
        }
        nextStep = Math.max(nextStep, step + 1);
        hooks.at(Section.DECISION, Phase.HOLDING, name(), step);
        schedule.fixThrough(step + 1);
        DecidedStep decision = new DecidedStep(step, d, g.generation(), schedule.fixedThrough(), schedule.latest().generation());
        decided.addLast(decision);
        if (decided.size() > DECISIONS_KEPT) {
          decided.removeFirst();
        }
        try {
          persist(); // durable before any worker is answered; a raised horizon stays raised (only stricter)
        } catch (RuntimeException e) {
          updates = updatesBefore;
          skipped = skippedBefore;
          nextStep = nextBefore;
          decided.removeLast();
          throw e; // the reports fail with UNAVAILABLE; the workers' retries decide the step again
        }
        metrics.addLast(StepMetrics.newBuilder().setStep(step).setUpdate(d.update()).setSkipped(!d.applies())
            .setLearningRate(d.applies() ? d.learningRate() : Double.NaN)
            .setGradientNorm(d.gradientNorm())
            .setClippedNorm(d.applies() ? d.gradientNorm() * d.clipScale() : Double.NaN)
            .setBarrierWaitMillis(round.barrierWaitMillis()).setGeneration(g.generation()).build());
        if (metrics.size() > METRICS_KEPT) {
          metrics.removeFirst();
        }
        observer.stepDecided(name(), decision, round.barrierWaitMillis() / 1e3,
            (nanoTime.getAsLong() - round.firstReportNanos()) / 1e9);
        return decision;
      });
    }

    /** A worker that prepared the step under another generation than the schedule's has a bug: never guess. */
    private void checkGenerations(StepBarrier.CompletedRound round, GenerationSchedule.Generation g) {
      List<String> others = new ArrayList<>();
      new TreeMap<>(round.generations()).forEach((worker, generation) -> {
        if (generation != g.generation()) {
          others.add(worker + " prepared it under generation " + generation);
        }
      });
      if (!others.isEmpty()) {
        throw ApiException.failedPrecondition("step " + round.step() + " of " + name() + ": the schedule has pipeline"
            + " generation " + g.generation() + " in force at that step, but " + String.join(" and ", others)
            + "; a worker must prepare a step under the schedule's generation (GetPipelineSchedule)");
      }
    }

    ApiException timedOut(long step, Set<String> missing) {
      List<String> down = new ArrayList<>();
      for (String w : missing) {
        if (!workers.beating(w)) {
          workers.markUnhealthy(w);
          down.add(w);
        }
      }
      String why = down.isEmpty()
          ? "the workers are alive, so a trainer's push is probably missing"
          : String.join(", ", down) + " stopped answering and " + (down.size() == 1 ? "is" : "are") + " marked unhealthy";
      String msg = "step " + step + " of " + name() + " did not complete within " + config.barrierTimeoutMillis()
          + " ms: " + String.join(", ", missing) + " did not report (" + why + ")";
      synchronized (this) {
        failure = msg;
        try {
          persist();
        } catch (RuntimeException e) {
          log.warn("{} failed, and its failure could not be made durable: {}", name(), e.getMessage());
        }
      }
      return ApiException.unavailable(msg);
    }
  }

  private final Map<String, Record> models = new LinkedHashMap<>();
  private final WorkerRegistry workers;
  private final WorkerFleet fleet;
  private final ScheduledExecutorService timer;
  private final CoordinatorConfig config;
  private final ScheduleLockHooks hooks;
  private final LongSupplier nanoTime;
  private final CoordinatorStateStore store;
  private final CoordinatorObserver observer;

  /**
   * @param hooks called around each model's schedule lock ({@link ScheduleLockHooks#NONE} but in tests)
   * @param nanoTime the clock of the barrier wait ({@code System::nanoTime} but in tests)
   */
  public ModelRegistry(WorkerRegistry workers, WorkerFleet fleet, ScheduledExecutorService timer, CoordinatorConfig config,
      ScheduleLockHooks hooks, LongSupplier nanoTime) {
    this(workers, fleet, timer, config, hooks, nanoTime, CoordinatorStateStore.none());
  }

  /**
   * A registry that makes every change durable in {@code store} before it answers, and starts with
   * the models {@code store} holds.
   *
   * @throws CoordinatorStateStore.UnreadableStateException when a model's state does not hold together
   */
  public ModelRegistry(WorkerRegistry workers, WorkerFleet fleet, ScheduledExecutorService timer, CoordinatorConfig config,
      ScheduleLockHooks hooks, LongSupplier nanoTime, CoordinatorStateStore store) {
    this(workers, fleet, timer, config, hooks, nanoTime, store, CoordinatorObserver.NONE);
  }

  /**
   * A registry over {@code store} that tells {@code observer} of every step it decides and every
   * model it deletes.
   *
   * @throws CoordinatorStateStore.UnreadableStateException when a model's state does not hold together
   */
  public ModelRegistry(WorkerRegistry workers, WorkerFleet fleet, ScheduledExecutorService timer, CoordinatorConfig config,
      ScheduleLockHooks hooks, LongSupplier nanoTime, CoordinatorStateStore store, CoordinatorObserver observer) {
    this.observer = observer;
    this.workers = workers;
    this.fleet = fleet;
    this.timer = timer;
    this.config = config;
    this.hooks = hooks;
    this.nanoTime = nanoTime;
    this.store = store;
    for (ModelRecordState saved : store.models()) {
      try {
        models.put(saved.getSpec().getName(), new Record(saved));
      } catch (RuntimeException e) {
        throw new CoordinatorStateStore.UnreadableStateException("coordinator state file "
            + store.modelFile(saved.getSpec().getName()) + " does not hold together: " + e.getMessage());
      }
    }
  }

  private static GenerationSchedule savedSchedule(ModelRecordState saved) {
    Model spec = saved.getSpec();
    GenerationSchedule s = GenerationSchedule.restored(spec.getName(), Pipeline.fromProto(spec.getPipeline()),
        saved.getSchedule().getGenerationsList(), spec.getTensorsList().stream().map(TensorSpec::getName).toList(), 0);
    s.fixThrough(saved.getSchedule().getFixedThrough());
    return s;
  }

  // ---------------------------------------------------------------- create, get, list, delete

  /** Validates, places and creates a model; on any failure nothing is left behind. */
  public Model create(String modelId, Model requested) {
    return create(modelId, requested, null);
  }

  /**
   * Creates a model that continues from a checkpoint: {@code requested} is the spec the checkpoint
   * recorded with generation 0's pipeline, {@code generations} its whole schedule, and the workers
   * read their shards from {@code restore}. READY at once (nothing to upload); the schedule is fixed
   * through the checkpoint's step and its next decision is that step's.
   *
   * @param check gets every byte range the workers read, with its CRC32C, once all of them have
   *     created their shards; throwing (an ApiException) drops the shards and creates nothing
   */
  public Model restore(String modelId, Model requested, List<PipelineGeneration> generations, RestoreSpec restore,
      Consumer<List<CheckpointRange>> check) {
    return create(modelId, requested, new Restoring(generations, restore, check));
  }

  /** A restore's schedule, where the workers read their shards, and the check of what they read. */
  private record Restoring(List<PipelineGeneration> generations, RestoreSpec spec, Consumer<List<CheckpointRange>> check) {}

  /**
   * How far a restored model's schedule is fixed: SYNC, through the checkpoint's step (the next
   * step); ASYNC, through the highest next push of a trainer (each trainer's next push is fixed).
   */
  private static long restoredFixedThrough(RestoreSpec restore) {
    return restore.getNextPushCount() == 0 ? restore.getStep()
        : restore.getNextPushList().stream().mapToLong(Long::longValue).max().orElse(0);
  }

  /** The model's name ({@code models/<id>}), or INVALID_ARGUMENT for an id that cannot be one. */
  static String nameOf(String modelId) {
    if (modelId == null || !MODEL_ID.matcher(modelId).matches()) {
      throw ApiException.invalidArgument("model_id must match " + MODEL_ID.pattern() + ", got '" + modelId + "'");
    }
    return "models/" + modelId;
  }

  private Model create(String modelId, Model requested, Restoring restoring) {
    String name = nameOf(modelId);
    Pipeline pipeline = PipelineInput.require("model.",
        requested.hasPipeline() ? requested.getPipeline() : null, requested.getPipelineText());
    List<String> names = new ArrayList<>();
    List<Long> sizes = new ArrayList<>();
    boolean upload = false;
    if (requested.getTensorsCount() == 0) {
      throw ApiException.invalidArgument("model.tensors is empty; a model needs at least one tensor");
    }
    for (int i = 0; i < requested.getTensorsCount(); i++) {
      TensorSpec t = requested.getTensors(i);
      if (t.getName().isEmpty()) {
        throw ApiException.invalidArgument("model.tensors[" + i + "].name is empty");
      }
      if (names.contains(t.getName())) {
        throw ApiException.invalidArgument("model.tensors[" + i + "].name '" + t.getName() + "' is used twice");
      }
      long n = 1;
      boolean tooLarge = false;
      for (long d : t.getShapeList()) {
        if (d < 0) {
          throw ApiException.invalidArgument("tensor '" + t.getName() + "' has a negative dimension in shape " + t.getShapeList());
        }
        if (d != 0 && n > Long.MAX_VALUE / d) { // the product passes 2^63: far past the limit below
          tooLarge = true;
        } else {
          n *= d;
        }
      }
      if (n == 0) {
        tooLarge = false; // a zero dimension makes the tensor empty whatever the others
      }
      if (tooLarge || n > Integer.MAX_VALUE - 8) {
        throw ApiException.invalidArgument("tensor '" + t.getName() + "' of shape " + t.getShapeList() + " has "
            + (tooLarge ? "more than 2^63" : Long.toString(n)) + " elements; at most " + (Integer.MAX_VALUE - 8)
            + " per tensor (split it)");
      }
      try {
        pipeline.settingsFor(t.getName());
      } catch (InvalidPipelineException e) {
        throw ApiException.invalidArgument("model.pipeline: " + e.getMessage());
      }
      try {
        InitialValues.validate(t.getName(), t.getInit());
      } catch (IllegalArgumentException e) {
        throw ApiException.invalidArgument(e.getMessage());
      }
      upload |= t.getInit().getKindCase() == Initializer.KindCase.UPLOAD && n > 0;
      names.add(t.getName());
      sizes.add(n);
    }
    int trainers = requested.getTrainers() == 0 ? 1 : requested.getTrainers();
    if (trainers > 1024) {
      throw ApiException.invalidArgument("model.trainers must be in [1, 1024], got " + trainers);
    }
    TrainingMode mode = requested.getMode() == TrainingMode.TRAINING_MODE_UNSPECIFIED ? TrainingMode.SYNC : requested.getMode();
    if (mode == TrainingMode.UNRECOGNIZED) {
      throw ApiException.invalidArgument("model.mode " + requested.getModeValue() + " is unknown; use SYNC or ASYNC");
    }
    if (mode == TrainingMode.SYNC && requested.getStaleness() != 0) {
      throw ApiException.invalidArgument("model.staleness applies to ASYNC models; a SYNC model has none, got "
          + requested.getStaleness());
    }

    int replicas = Math.max(1, requested.getReplicas());
    if (replicas > 16) {
      throw ApiException.invalidArgument("model.replicas must be in [1, 16], got " + requested.getReplicas());
    }

    GenerationSchedule schedule = restoring == null ? new GenerationSchedule(name, pipeline, names)
        : GenerationSchedule.restored(name, pipeline, restoring.generations(), names, restoredFixedThrough(restoring.spec()));
    upload &= restoring == null;
    List<ShardPlanner.WorkerSlot> healthy = workers.healthyWorkers();
    if (healthy.isEmpty()) {
      throw ApiException.unavailable("no healthy workers to hold " + name + "; start a worker with --coordinator");
    }
    if (replicas > 1 && mode == TrainingMode.ASYNC) {
      throw ApiException.invalidArgument("model.replicas " + replicas + " needs a SYNC model: the copies of an ASYNC"
          + " model would apply the trainers' pushes in the order each receives them, and drift apart");
    }
    if (healthy.size() < replicas) {
      throw ApiException.failedPrecondition(name + " asks for " + replicas + " replicas, each on a different worker,"
          + " but " + healthy.size() + " worker" + (healthy.size() == 1 ? " is" : "s are") + " healthy "
          + healthy.stream().map(ShardPlanner.WorkerSlot::name).toList() + "; start more workers or ask for fewer"
          + " replicas");
    }
    Model spec = requested.toBuilder().setName(name).setTrainers(trainers).setMode(mode).setReplicas(replicas)
        .setPipeline(pipeline.toProto()).setPipelineText(pipeline.toString())
        .setState(upload ? ModelState.LOADING : ModelState.READY).clearStep().clearFailure().clearReplication()
        .build();
    List<Shard> shards = ShardPlanner.plan(names, sizes, healthy, config.maxShardBlocks(), replicas);
    synchronized (this) {
      if (models.containsKey(name)) {
        throw ApiException.alreadyExists(name + " already exists; delete it first or choose another model_id");
      }
      models.put(name, null); // reserved while the workers create their shards
    }
    Map<String, List<Shard>> byWorker = byWorker(shards);
    Map<String, CreateShardsRequest> requests = new LinkedHashMap<>();
    for (List<Shard> onWorker : byWorker.values()) {
      CreateShardsRequest.Builder request = CreateShardsRequest.newBuilder().setModel(spec).addAllShards(onWorker);
      if (restoring != null) {
        request.setRestore(restoring.spec());
      }
      requests.put(onWorker.get(0).getAddress(), request.build());
    }
    Record record = new Record(spec, shards, schedule, restoring == null ? null : restoring.spec());
    // every worker at once: a restore reads each worker's part of the checkpoint in parallel
    WorkerFleet.Created created = fleet.createShards(requests);
    Map<String, RuntimeException> failed = created.failures();
    try {
      if (!failed.isEmpty()) {
        throw failed.values().iterator().next();
      }
      if (restoring != null) {
        restoring.check().accept(onceEach(name, created.answers().values().stream()
            .flatMap(a -> a.getRestoredList().stream()).toList()));
      }
      synchronized (record) {
        record.persist();
      }
    } catch (RuntimeException e) {
      for (String address : requests.keySet()) {
        if (failed.containsKey(address)) {
          continue;
        }
        try {
          fleet.dropModel(address, name);
        } catch (RuntimeException ignored) {
          // best effort: the model was never usable
        }
      }
      synchronized (this) {
        models.remove(name);
      }
      throw e instanceof ApiException a ? a : ApiException.unavailable("creating " + name + " failed: " + e.getMessage());
    }
    synchronized (this) {
      models.put(name, record);
    }
    return describe(record);
  }

  /**
   * The byte ranges the workers read of a checkpoint, each once: the copies of a replicated model
   * each read their range, and two reads of one range must have the same CRC32C.
   *
   * @throws ApiException FAILED_PRECONDITION naming a range two copies read differently
   */
  private static List<CheckpointRange> onceEach(String name, List<CheckpointRange> read) {
    Map<String, CheckpointRange> once = new LinkedHashMap<>();
    for (CheckpointRange c : read) {
      CheckpointRange seen = once.putIfAbsent(c.getPath() + "@" + c.getOffset() + "+" + c.getLength(), c);
      if (seen != null && seen.getCrc32C() != c.getCrc32C()) {
        throw ApiException.failedPrecondition("two copies of " + name + " read bytes [" + c.getOffset() + ", +"
            + c.getLength() + ") of " + c.getPath() + " with different CRC32Cs; the checkpoint's file changed while it"
            + " was read");
      }
    }
    return List.copyOf(once.values());
  }

  public Model get(String name) {
    return describe(record(name));
  }

  public List<Model> list() {
    List<Record> all;
    synchronized (this) {
      all = models.values().stream().filter(Objects::nonNull).toList();
    }
    return all.stream().map(this::describe).toList();
  }

  public void delete(String name) {
    Record r;
    synchronized (this) {
      r = record(name);
      models.remove(name);
    }
    store.deleteModel(name);
    r.barrier.close(ApiException.notFound(name + " was deleted"));
    observer.modelDeleted(name);
    for (String address : new LinkedHashSet<>(r.addresses.values())) {
      try {
        fleet.dropModel(address, name);
      } catch (RuntimeException ignored) {
        // an unreachable worker drops the model when it restarts
      }
    }
  }

  public ShardMap shardMap(String name) {
    Record r = record(name);
    synchronized (r) {
      return ShardMap.newBuilder().setModel(name).addAllShards(r.shards).setBlockSize(ReductionBlocks.BLOCK)
          .setEpoch(r.epoch).build();
    }
  }

  /** Records {@code path} as {@code name}'s latest committed checkpoint (named when the model is lost). */
  public void checkpointCommitted(String name, String path) {
    Record r;
    synchronized (this) {
      r = models.get(name);
    }
    if (r == null) {
      return;
    }
    synchronized (r) {
      r.latestCheckpoint = path;
      try {
        r.persist();
      } catch (RuntimeException e) { // the checkpoint is committed; only this hint may be lost
        log.warn("{}: its latest checkpoint {} could not be made durable in the state dir: {}", name, path,
            e.getMessage());
      }
    }
  }

  /** How long a worker may miss its heartbeats before it is declared dead (--failure-timeout). */
  long failureTimeoutMillis() {
    return config.heartbeatMillis() * config.missedBeats();
  }

  /**
   * {@code worker} is declared dead: it missed its heartbeats for longer than the failure timeout.
   * For each model it holds copies of: when every range keeps a copy on another worker, its copies
   * are dropped from the shard map (of each range it was primary of, the next copy becomes
   * primary), the map's epoch is bumped, and the step barrier stops waiting for it and refuses its
   * reports from now on (a worker that comes back is fenced off the model). Otherwise the model
   * fails, naming the ranges lost and where its latest checkpoint is, if it has one.
   *
   * @return one line per model, what happened to it
   */
  public List<String> workerLost(String worker) {
    List<Record> holding;
    synchronized (this) {
      holding = models.values().stream().filter(r -> r != null && r.addresses.containsKey(worker)).toList();
    }
    List<String> lines = new ArrayList<>();
    for (Record r : holding) {
      String why;
      long epoch;
      List<String> lost;
      synchronized (r) {
        if (!r.addresses.containsKey(worker) || r.failure != null) {
          continue;
        }
        List<Shard> remaining = new ArrayList<>();
        Map<String, Integer> copies = new LinkedHashMap<>();
        for (Shard s : r.shards) {
          String range = s.getTensor() + "[" + s.getOffset() + ", " + (s.getOffset() + s.getLength()) + ")";
          copies.putIfAbsent(range, 0);
          if (!s.getWorker().equals(worker)) {
            copies.merge(range, 1, Integer::sum);
            remaining.add(s);
          }
        }
        lost = copies.entrySet().stream().filter(e -> e.getValue() == 0).map(Map.Entry::getKey).toList();
        if (!lost.isEmpty()) {
          r.failure = worker + " was declared dead and " + lost.size() + " shard" + (lost.size() == 1 ? "" : "s")
              + " of " + r.name() + " had no other copy: " + (lost.size() <= 8 ? lost : lost.subList(0, 8) + " ...")
              + (r.spec.getReplicas() <= 1 ? " (the model has 1 replica; create it with replicas >= 2 to survive"
              + " this)" : "") + "; " + (r.latestCheckpoint == null ? "it has no checkpoint"
              : "its latest checkpoint is " + r.latestCheckpoint + " (CreateModel with restore_from)");
          why = r.failure;
        } else {
          r.shards = List.copyOf(renumbered(remaining));
          r.addresses = addressesOf(r.shards);
          r.epoch++;
          r.lostWorkers.add(worker);
          why = r.lostWhy(worker);
        }
        epoch = r.epoch;
        try {
          r.persist();
        } catch (RuntimeException e) {
          log.warn("{}: the failover could not be made durable: {}", r.name(), e.getMessage());
        }
      }
      if (!lost.isEmpty()) {
        r.barrier.close(ApiException.unavailable(why));
        lines.add(r.name() + " failed: " + why);
      } else {
        r.barrier.removeParticipant(worker, why);
        int minCopies;
        synchronized (r) {
          minCopies = replication(r).getMinLiveCopies();
        }
        observer.failedOver(r.name(), worker, epoch, minCopies);
        lines.add("failover: " + r.name() + ": " + worker + " declared dead; its shards' backups took over (epoch "
            + epoch + ")");
      }
    }
    return lines;
  }

  /**
   * Of {@code reported} (the models a worker's heartbeat names), those {@code worker} is fenced off
   * (declared dead, or its copy withdrawn), each with why; models this coordinator does not know
   * are left out.
   */
  public Map<String, String> fencedOff(String worker, java.util.Collection<String> reported) {
    Map<String, String> out = new LinkedHashMap<>();
    for (String name : reported) {
      Record r;
      synchronized (this) {
        r = models.get(name);
      }
      String why = r == null ? null : r.barrier.fencedReason(worker);
      if (why != null) {
        out.put(name, why);
      }
    }
    return out;
  }

  /** Model.replication of {@code r}; under its lock. */
  private static ReplicationStatus replication(Record r) {
    int replicas = Math.max(1, r.spec.getReplicas());
    Map<String, Integer> copies = new LinkedHashMap<>();
    for (Shard s : r.shards) {
      copies.merge(s.getTensorIndex() + ":" + s.getOffset(), 1, Integer::sum);
    }
    int min = copies.values().stream().mapToInt(Integer::intValue).min().orElse(replicas);
    int under = (int) copies.values().stream().filter(c -> c < replicas).count();
    return ReplicationStatus.newBuilder().setReplicas(replicas).setEpoch(r.epoch).setMinLiveCopies(min)
        .setUnderReplicatedShards(under).addAllLostWorkers(r.lostWorkers).setShards(copies.size())
        .setCopyingShards(r.copying).setCopiesMade(r.copiesMade).build();
  }

  /** The workers holding copies of a model that has not failed, in model and shard-map order. */
  public List<String> workersHoldingCopies() {
    List<Record> all;
    synchronized (this) {
      all = models.values().stream().filter(Objects::nonNull).toList();
    }
    Set<String> out = new LinkedHashSet<>();
    for (Record r : all) {
      synchronized (r) {
        if (r.failure == null) {
          out.addAll(r.addresses.keySet());
        }
      }
    }
    return List.copyOf(out);
  }

  // ---------------------------------------------------------------- re-replication

  /**
   * A copy of a model's under-replicated ranges onto one worker that holds none of its shards, each
   * range from its primary, at SYNC step boundary {@code step}.
   *
   * @param spec the model as the new copy's CreateShards names it (its whole pipeline schedule)
   * @param copies the new shards, on {@code target}, each numbered after its range's live copies
   * @param sources by source address, the starts of the ranges it gives
   * @param epoch the shard map's epoch when planned: the copy is abandoned if it moves meanwhile
   */
  public record CopyPlan(String model, Model spec, ShardPlanner.WorkerSlot target, long step, List<Shard> copies,
      Map<String, List<Shard>> sources, long epoch) {}

  /** SYNC models that have not failed and have a range with fewer live copies than their replicas. */
  public List<String> underReplicated() {
    List<Record> all;
    synchronized (this) {
      all = models.values().stream().filter(Objects::nonNull).toList();
    }
    List<String> out = new ArrayList<>();
    for (Record r : all) {
      synchronized (r) {
        if (r.failure == null && r.spec.getMode() == TrainingMode.SYNC && replication(r).getUnderReplicatedShards() > 0) {
          out.add(r.name());
        }
      }
    }
    return out;
  }

  /**
   * Plans a copy of {@code name}'s under-replicated ranges onto the first of {@code healthy} that
   * holds no shard of it (a worker's shards of a model never change once created) and was never
   * fenced off it, and marks them
   * being copied; empty when there is nothing to copy or no such worker. The step is the first
   * update boundary after the first undecided step: no worker has admitted a push of it unless the
   * trainers ran ahead, which the sources' hold then refuses.
   */
  public java.util.Optional<CopyPlan> planCopy(String name, List<ShardPlanner.WorkerSlot> healthy) {
    Record r = record(name);
    Model spec = describeSpec(r);
    // the barrier's lock outside the model's: a worker fenced off the model (a withdrawn copy) never joins it
    List<ShardPlanner.WorkerSlot> candidates = healthy.stream().filter(w -> !r.barrier.removed(w.name())).toList();
    synchronized (r) {
      if (r.failure != null || r.copying > 0) {
        return java.util.Optional.empty();
      }
      int replicas = Math.max(1, r.spec.getReplicas());
      Map<String, List<Shard>> byRange = new LinkedHashMap<>();
      for (Shard s : r.shards) {
        byRange.computeIfAbsent(s.getTensorIndex() + ":" + s.getOffset(), k -> new ArrayList<>()).add(s);
      }
      ShardPlanner.WorkerSlot target = candidates.stream()
          .filter(w -> !r.addresses.containsKey(w.name()) && !r.lostWorkers.contains(w.name())
              && !r.addresses.containsValue(w.address()))
          .findFirst().orElse(null);
      List<Shard> copies = new ArrayList<>();
      Map<String, List<Shard>> sources = new LinkedHashMap<>();
      for (List<Shard> range : byRange.values()) {
        if (range.size() >= replicas || target == null) {
          continue;
        }
        Shard primary = range.get(0);
        copies.add(primary.toBuilder().setWorker(target.name()).setAddress(target.address()).setReplica(range.size())
            .build());
        sources.computeIfAbsent(primary.getAddress(), a -> new ArrayList<>()).add(primary);
      }
      if (copies.isEmpty()) {
        return java.util.Optional.empty();
      }
      int k = r.schedule.latest().pipeline().accumulateSteps(); // accumulate never changes
      long step = (r.nextStep / k + 1) * k;
      r.copying = copies.size();
      return java.util.Optional.of(new CopyPlan(name, spec, target, step, copies, sources, r.epoch));
    }
  }

  /**
   * The copy of {@code plan} holds its sources' state at its step: its shards join the shard map
   * (epoch + 1) and the step barrier waits for the new worker from now on.
   *
   * @return the new epoch
   * @throws ApiException FAILED_PRECONDITION when the map moved meanwhile (a worker was lost) or the
   *     model failed: the copy is to be abandoned
   */
  public long addCopies(CopyPlan plan) {
    Record r = record(plan.model());
    // The barrier first (its lock is never taken inside the model's): no round of the copy's step
    // can be complete before the sources' held pushes are admitted, after this returns.
    r.barrier.addParticipant(plan.target().name());
    try {
      synchronized (r) {
        if (r.failure != null || r.epoch != plan.epoch()) {
          throw ApiException.failedPrecondition(plan.model() + " changed while its shards were copied to "
              + plan.target().name() + (r.failure != null ? " (it failed)" : " (shard map epoch " + plan.epoch()
              + " -> " + r.epoch + ")") + "; the copy is abandoned");
        }
        List<Shard> before = r.shards;
        List<Shard> next = new ArrayList<>(r.shards);
        next.addAll(plan.copies());
        r.shards = List.copyOf(next);
        r.addresses = addressesOf(r.shards);
        r.epoch++;
        // in the same write as the map: a coordinator killed before every source commits finds it on restart
        r.pendingCopy = pendingOf(plan, r.epoch);
        try {
          r.persist();
        } catch (RuntimeException e) {
          r.shards = before;
          r.addresses = addressesOf(before);
          r.epoch--;
          r.pendingCopy = null;
          throw e;
        }
        r.copiesMade += plan.copies().size();
        observer.copiesAdded(r.name(), plan.target().name(), plan.copies().size(), r.epoch,
            replication(r).getMinLiveCopies());
        return r.epoch;
      }
    } catch (RuntimeException e) {
      r.barrier.removeParticipant(plan.target().name(), "its copy of " + plan.model() + " was abandoned");
      throw e;
    }
  }

  /**
   * Takes the copies of {@code plan} out of the shard map again (epoch + 1), a source having lost its
   * hold before the commit (the copy may have missed pushes): the barrier no longer waits for the
   * target, and refuses its reports of the model. A range left with no copy (its sources died
   * meanwhile) fails the model: the withdrawn copy cannot be trusted to hold it.
   *
   * @return the new epoch
   */
  public long withdrawCopies(CopyPlan plan, String why) {
    Record r = record(plan.model());
    String failed = null;
    long epoch;
    synchronized (r) {
      List<Shard> kept = r.shards.stream().filter(s -> !s.getWorker().equals(plan.target().name())).toList();
      Set<String> left = new HashSet<>();
      kept.forEach(s -> left.add(s.getTensorIndex() + ":" + s.getOffset()));
      List<String> lost = r.shards.stream().filter(s -> !left.contains(s.getTensorIndex() + ":" + s.getOffset()))
          .map(s -> s.getTensor() + "[" + s.getOffset() + ", " + (s.getOffset() + s.getLength()) + ")").toList();
      if (!lost.isEmpty() && r.failure == null) {
        // its sources died meanwhile: the copy is all that is left of these ranges, and it may have missed pushes
        r.failure = "the copy of " + lost.size() + " shard" + (lost.size() == 1 ? "" : "s") + " of " + r.name()
            + " on " + plan.target().name() + " was withdrawn (" + why + ") and they had no other copy: "
            + (lost.size() <= 8 ? lost : lost.subList(0, 8) + " ...") + "; " + (r.latestCheckpoint == null
            ? "it has no checkpoint"
            : "its latest checkpoint is " + r.latestCheckpoint + " (CreateModel with restore_from)");
        failed = r.failure;
      }
      r.shards = List.copyOf(renumbered(kept));
      r.addresses = addressesOf(r.shards);
      r.epoch++;
      // not kept in the state dir: a copy withdrawn after a restart was not counted by this coordinator
      r.copiesMade = Math.max(0, r.copiesMade - plan.copies().size());
      r.pendingCopy = null;
      epoch = r.epoch;
      try {
        r.persist();
      } catch (RuntimeException e) {
        log.warn("{}: the withdrawal of the copy on {} could not be made durable: {}", r.name(), plan.target().name(),
            e.getMessage());
      }
    }
    r.barrier.removeParticipant(plan.target().name(), why);
    if (failed != null) {
      r.barrier.close(ApiException.unavailable(failed));
    }
    return epoch;
  }

  /**
   * Every source of {@code plan}'s copy committed it (step 4): it is no longer pending, and a
   * restarted coordinator leaves it alone.
   */
  public void copyCommitted(CopyPlan plan) {
    Record r = record(plan.model());
    synchronized (r) {
      if (r.pendingCopy == null || r.pendingCopy.getStep() != plan.step()
          || !r.pendingCopy.getTarget().getName().equals(plan.target().name())) {
        return;
      }
      r.pendingCopy = null;
      try {
        r.persist();
      } catch (RuntimeException e) { // a restart then commits it again, which its sources answer as done
        log.warn("{}: the commit of the copy on {} could not be made durable: {}", r.name(), plan.target().name(),
            e.getMessage());
      }
    }
  }

  /**
   * A copy that joined the shard map at {@code epoch} and awaits its sources' commits (step 4):
   * made by this coordinator, or found in the state dir after a restart.
   */
  public record PendingCommit(CopyPlan plan, long epoch) {}

  /** The copies pending their sources' commits, one per model at most, of models that have not failed. */
  public List<PendingCommit> pendingCommits() {
    List<Record> all;
    synchronized (this) {
      all = models.values().stream().filter(Objects::nonNull).toList();
    }
    List<PendingCommit> out = new ArrayList<>();
    for (Record r : all) {
      Model spec = describeSpec(r);
      synchronized (r) {
        if (r.pendingCopy == null) {
          continue;
        }
        if (r.failure != null) { // its workers fail the model too, and their holds with it
          r.pendingCopy = null;
          r.copying = 0;
          continue;
        }
        PendingCopy p = r.pendingCopy;
        Map<String, List<Shard>> sources = new LinkedHashMap<>();
        p.getSourcesList().forEach(s -> sources.computeIfAbsent(s.getAddress(), a -> new ArrayList<>()).add(s));
        CopyPlan plan = new CopyPlan(r.name(), spec, new ShardPlanner.WorkerSlot(p.getTarget().getName(),
            p.getTarget().getAddress()), p.getStep(), p.getCopiesList(), sources, p.getEpoch() - 1);
        out.add(new PendingCommit(plan, p.getEpoch()));
      }
    }
    return out;
  }

  /** Whether {@code address} still holds copies of {@code model} in its shard map. */
  public boolean holdsCopies(String model, String address) {
    Record r = record(model);
    synchronized (r) {
      return r.addresses.containsValue(address);
    }
  }

  private static PendingCopy pendingOf(CopyPlan plan, long epoch) {
    PendingCopy.Builder p = PendingCopy.newBuilder().setStep(plan.step()).setEpoch(epoch)
        .setTarget(WorkerIdentity.newBuilder().setName(plan.target().name()).setAddress(plan.target().address()))
        .addAllCopies(plan.copies());
    plan.sources().values().forEach(p::addAllSources);
    return p.build();
  }

  /** The copy of {@code plan} ended (made or abandoned): the model's status no longer shows it. */
  public void copyEnded(CopyPlan plan) {
    Record r;
    synchronized (this) {
      r = models.get(plan.model());
    }
    if (r != null) {
      synchronized (r) {
        r.copying = r.pendingCopy == null ? 0 : r.pendingCopy.getCopiesCount(); // a pending copy is still being made
      }
    }
  }

  /** The model as a new copy's CreateShards names it: its spec with the whole pipeline schedule. */
  private Model describeSpec(Record r) {
    synchronized (r) {
      return r.spec.toBuilder().clearPipelineSchedule().addAllPipelineSchedule(r.schedule.generationsProto()).build();
    }
  }

  /** Each range's remaining copies numbered 0 (the primary), 1, ... in their former order. */
  private static List<Shard> renumbered(List<Shard> copies) {
    Map<String, Integer> next = new HashMap<>();
    List<Shard> out = new ArrayList<>();
    for (Shard s : copies) {
      int k = next.merge(s.getTensorIndex() + ":" + s.getOffset(), 1, Integer::sum) - 1;
      out.add(s.getReplica() == k ? s : s.toBuilder().setReplica(k).build());
    }
    return out;
  }

  private static Map<String, String> addressesOf(List<Shard> shards) {
    Map<String, String> out = new LinkedHashMap<>();
    for (Shard s : shards) {
      out.put(s.getWorker(), s.getAddress());
    }
    return java.util.Collections.unmodifiableMap(out);
  }

  /** Shards per worker name, for status. */
  public synchronized Map<String, Integer> shardsByWorker() {
    Map<String, Integer> out = new HashMap<>();
    for (Record r : models.values()) {
      if (r != null) {
        r.shards.forEach(s -> out.merge(s.getWorker(), 1, Integer::sum));
      }
    }
    return out;
  }

  // ---------------------------------------------------------------- pipeline schedule

  /**
   * Adds a generation to the model's schedule from {@code atStep} on, or refuses it and changes
   * nothing (see {@link GenerationSchedule#append}). The workers follow the schedule; none is called.
   */
  public Model updatePipeline(String name, OptimizerPipeline proto, long atStep) {
    return updatePipelineTo(name, PipelineInput.require("", proto, null), atStep);
  }

  /** {@link #updatePipeline(String, OptimizerPipeline, long)} with the pipeline read already. */
  public Model updatePipelineTo(String name, Pipeline next, long atStep) {
    checkStep("at_step", atStep);
    Record r = record(name);
    locked(r, Section.UPDATE, atStep, () -> {
      r.schedule.append(next, atStep);
      try {
        r.persist();
      } catch (RuntimeException e) {
        r.schedule.dropLatest();
        throw e;
      }
      hooks.at(Section.UPDATE, Phase.HOLDING, name, atStep);
      return null;
    });
    return describe(r);
  }

  /** The model's schedule, fixed through {@code throughStep} from now on (no change may come at or before it). */
  public PipelineSchedule pipelineSchedule(String name, long throughStep) {
    checkStep("through_step", throughStep);
    Record r = record(name);
    return locked(r, Section.FIX, throughStep, () -> {
      if (throughStep > r.schedule.fixedThrough()) {
        r.schedule.fixThrough(throughStep);
        r.persist(); // durable before the worker is told: it may start the step at once
      }
      hooks.at(Section.FIX, Phase.HOLDING, name, throughStep);
      return r.schedule.toProto();
    });
  }

  /** Runs {@code body} under the model's lock, with the hooks before and after it. */
  private <T> T locked(Record r, Section section, long step, Supplier<T> body) {
    hooks.at(section, Phase.LOCKING, r.name(), step);
    try {
      synchronized (r) {
        return body.get();
      }
    } finally {
      hooks.at(section, Phase.RELEASED, r.name(), step);
    }
  }

  // ---------------------------------------------------------------- checkpoints

  /**
   * What every checkpoint needs of its model: its name, its tensors with their full shapes, the
   * optimizer state slots of its files, and the workers that hold its shards.
   */
  public abstract static class CheckpointedModel {
    final Record record;
    private final List<String> slots;

    private CheckpointedModel(Record record, List<String> slots) {
      this.record = record;
      this.slots = List.copyOf(slots);
    }

    public String model() {
      return record.name();
    }

    /** The model's tensors, in order, with their full shapes. */
    public List<TensorSpec> tensors() {
      return record.spec.getTensorsList();
    }

    /** The optimizer state slots of every tensor (the rule's, which no generation changes). */
    public List<String> slots() {
      return slots;
    }

    /** The addresses of the workers holding shards of the model. */
    public List<String> workers() {
      return List.copyOf(new LinkedHashSet<>(record.addresses.values()));
    }

    /** This run of the model (see CheckpointManifest.model_incarnation). */
    public String incarnation() {
      return record.incarnation;
    }

    /** Whether the workers at {@code addresses} hold a copy of every range of the model. */
    public boolean coveredBy(java.util.Collection<String> addresses) {
      Set<String> ranges = new HashSet<>();
      Set<String> covered = new HashSet<>();
      for (Shard s : record.shards) {
        String range = s.getTensorIndex() + ":" + s.getOffset();
        ranges.add(range);
        if (addresses.contains(s.getAddress())) {
          covered.add(range);
        }
      }
      return covered.containsAll(ranges);
    }
  }

  /**
   * A SYNC model's step boundary held for a checkpoint: the barrier does not decide the step that
   * ends the window after it until {@link #release}, so every worker's state at the boundary stays
   * as it is until each has copied it. What the checkpoint's plan and manifest need of the model.
   */
  public static final class CheckpointHold extends CheckpointedModel {
    private final long step;
    private final long heldStep;
    private boolean released;

    private CheckpointHold(Record record, long step, long heldStep, List<String> slots) {
      super(record, slots);
      this.step = step;
      this.heldStep = heldStep;
    }

    /** The boundary captured: the state after this many steps. */
    public long step() {
      return step;
    }

    /** The step whose decision waits for the release: the last of the window starting at {@link #step}. */
    public long heldStep() {
      return heldStep;
    }

    /**
     * Ends the hold (the decision of {@link #heldStep} may be made) and returns the manifest's model
     * fields as of the boundary. The counters are the boundary's once every worker has reached it (its
     * snapshot answered): no step of the window is decided before the held one. Idempotent.
     */
    public CheckpointManifest release() {
      CheckpointManifest fields;
      synchronized (record) {
        Pipeline atStep = record.schedule.at(step).pipeline();
        fields = CheckpointManifest.newBuilder().setModelId(record.name().substring("models/".length()))
            .setModelIncarnation(record.incarnation)
            .setStep(step).setPipelineText(atStep.toString()).setPipelineSchedule(record.schedule.toProto())
            .setTrainers(record.spec.getTrainers()).setMode(record.spec.getMode())
            .setStaleness(record.spec.getStaleness()).addAllTensors(record.spec.getTensorsList())
            .setReplicas(Math.max(1, record.spec.getReplicas()))
            .setUpdatesApplied(record.updates).setStepsSkipped(record.skipped).setNextStep(step).build();
        if (released) {
          return fields;
        }
        released = true;
      }
      record.barrier.release(heldStep);
      return fields;
    }
  }

  /**
   * Chooses the step of a checkpoint of a SYNC model and holds it ({@link CheckpointHold}): {@code
   * atStep}, or when null the next update boundary whose window is not decided yet.
   *
   * @throws ApiException NOT_FOUND; FAILED_PRECONDITION for an ASYNC model or a boundary the cluster
   *     has passed (naming the earliest step allowed); INVALID_ARGUMENT for a step that is not a
   *     multiple of the pipeline's accumulate
   */
  public CheckpointHold holdCheckpoint(String name, Long atStep) {
    Record r = record(name);
    if (r.spec.getMode() == TrainingMode.ASYNC) {
      throw ApiException.failedPrecondition(name + " is ASYNC: it has no step boundary to hold; its checkpoint is"
          + " taken at a cut of the trainers' pushes");
    }
    if (atStep != null) {
      checkStep("at_step", atStep);
    }
    CheckpointHold[] hold = new CheckpointHold[1];
    // The barrier's lock, then the model's: a decision's order, so that no decision comes between the
    // choice of the step and the hold.
    r.barrier.hold(() -> locked(r, Section.CHECKPOINT, atStep == null ? -1 : atStep, () -> {
      int k = r.schedule.latest().pipeline().accumulateSteps(); // accumulate never changes (checkCompatible)
      long earliest = r.nextStep / k * k;
      long step = atStep == null ? earliest : atStep;
      if (step % k != 0) {
        throw ApiException.invalidArgument("at_step " + step + " of " + name + " is not a multiple of the pipeline's"
            + " accumulate " + k + ": a checkpoint captures an update boundary; choose " + (step / k * k) + " or "
            + (step / k * k + k));
      }
      if (step < earliest) {
        throw ApiException.failedPrecondition("the cluster has passed step " + step + " of " + name + " (step "
            + (step + k - 1) + ", the last of its window, is decided); choose at_step " + earliest + " or later");
      }
      hold[0] = new CheckpointHold(r, step, step + k - 1,
          UpdateKernels.forRule(r.schedule.at(step).pipeline().rule()).stateSlots());
      hooks.at(Section.CHECKPOINT, Phase.HOLDING, name, step);
      return step + k - 1;
    }));
    return hold[0];
  }

  /** SYNC or ASYNC. */
  public TrainingMode mode(String name) {
    return record(name).spec.getMode();
  }

  /** This run of the model (CheckpointManifest.model_incarnation). */
  public String incarnation(String name) {
    return record(name).incarnation;
  }

  /**
   * What a checkpoint of an ASYNC model needs of it: the checkpoint's plan, the workers holding its
   * shards, and the manifest's model fields for a cut.
   */
  public static final class AsyncCheckpoint extends CheckpointedModel {
    private AsyncCheckpoint(Record record, List<String> slots) {
      super(record, slots);
    }

    public int trainers() {
      return Math.max(1, record.spec.getTrainers());
    }

    /**
     * The manifest's model fields for the cut {@code nextPush} (per trainer, its pushes captured)
     * with the copies' counters: the step is the pushes captured, the pipeline text the one in force
     * at the lowest next push, the schedule as it is now.
     */
    public CheckpointManifest manifest(long[] nextPush, long updatesApplied, long stepsSkipped) {
      long step = LongStream.of(nextPush).sum();
      long lowest = LongStream.of(nextPush).min().orElse(0);
      synchronized (record) {
        return CheckpointManifest.newBuilder().setModelId(record.name().substring("models/".length()))
            .setModelIncarnation(record.incarnation)
            .setStep(step).setPipelineText(record.schedule.at(lowest).pipeline().toString())
            .setPipelineSchedule(record.schedule.toProto()).setTrainers(trainers()).setMode(record.spec.getMode())
            .setStaleness(record.spec.getStaleness()).addAllTensors(record.spec.getTensorsList())
            .setUpdatesApplied(updatesApplied).setStepsSkipped(stepsSkipped)
            .addAllNextPush(LongStream.of(nextPush).boxed().toList()).build();
      }
    }
  }

  /**
   * An ASYNC model, for a checkpoint at a cut of its trainers' pushes.
   *
   * @throws ApiException NOT_FOUND; FAILED_PRECONDITION for a SYNC model, or one whose pipeline
   *     accumulates (a cut could fall inside an accumulation window)
   */
  public AsyncCheckpoint asyncCheckpoint(String name) {
    Record r = record(name);
    if (r.spec.getMode() != TrainingMode.ASYNC) {
      throw ApiException.failedPrecondition(name + " is SYNC: its checkpoints capture a step boundary");
    }
    Pipeline latest;
    synchronized (r) {
      latest = r.schedule.latest().pipeline();
    }
    int k = latest.accumulateSteps(); // accumulate never changes (checkCompatible)
    if (k != 1) {
      throw ApiException.failedPrecondition(name + " is ASYNC and accumulates " + k + " pushes per update: an ASYNC"
          + " checkpoint needs accumulate 1 (a cut of the trainers' pushes could fall inside a window, whose partial"
          + " sum no checkpoint holds)");
    }
    return new AsyncCheckpoint(r, UpdateKernels.forRule(latest.rule()).stateSlots());
  }

  // ---------------------------------------------------------------- steps

  /**
   * Phase one of a synchronous step, prepared by {@code worker} under pipeline {@code generation};
   * {@code reply} gets the decision once every worker reported.
   */
  public void reportStep(String name, String worker, long step, long generation, List<BlockStatistics> stats,
      StepBarrier.Reply reply) {
    checkStep("step", step);
    Record r = record(name);
    if (r.spec.getMode() == TrainingMode.ASYNC) {
      throw ApiException.failedPrecondition(name + " is ASYNC: its steps need no barrier");
    }
    checkStatistics(r, worker, stats);
    r.barrier.report(worker, step, generation, stats, reply);
  }

  /**
   * A report's statistics name tensors of the model, each (tensor, first block) at most once: a
   * shard's statistics twice in one report would otherwise look like two copies that differ.
   *
   * @throws ApiException INVALID_ARGUMENT naming the statistics
   */
  private static void checkStatistics(Record r, String worker, List<BlockStatistics> stats) {
    Set<String> seen = new HashSet<>();
    int tensors = r.spec.getTensorsCount();
    for (BlockStatistics b : stats) {
      String what = "statistics of tensor " + Integer.toUnsignedString(b.tensorIndex()) + " from block "
          + Integer.toUnsignedString(b.firstBlock());
      if (b.tensorIndex() < 0 || b.tensorIndex() >= tensors || b.firstBlock() < 0) {
        throw ApiException.invalidArgument(worker + " reported " + what + " of " + r.name() + ", which has " + tensors
            + " tensors; a tensor index is in [0, " + tensors + ") and a block index not negative");
      }
      if (!seen.add(b.tensorIndex() + ":" + b.firstBlock())) {
        throw ApiException.invalidArgument(worker + " reported " + what + " of " + r.name() + " twice in one report");
      }
    }
  }

  public void reportLoaded(String name, String worker) {
    Record r = record(name);
    synchronized (r) {
      if (r.loaded.add(worker)) {
        try {
          r.persist();
        } catch (RuntimeException e) {
          r.loaded.remove(worker); // not durable: the worker's retry adds it again
          throw e;
        }
      }
    }
  }

  public ModelMetrics metrics(String name, long fromStep) {
    Record r = record(name);
    synchronized (r) {
      ModelMetrics.Builder b = ModelMetrics.newBuilder().setModel(name).setStepsSkipped(r.skipped);
      for (StepMetrics m : r.metrics) {
        if (m.getStep() >= fromStep) {
          b.addSteps(m);
        }
      }
      return b.build();
    }
  }

  // ---------------------------------------------------------------- helpers

  private synchronized Record record(String name) {
    Record r = models.get(name);
    if (r == null) {
      throw ApiException.notFound(name + " not found" + (name.startsWith("models/") ? "" : "; model names look like 'models/{id}'"));
    }
    return r;
  }

  private Model describe(Record r) {
    Model.Builder b = r.spec.toBuilder();
    String failure;
    boolean loaded;
    long updates;
    long skipped;
    synchronized (r) {
      Pipeline newest = r.schedule.latest().pipeline();
      b.setPipeline(newest.toProto()).setPipelineText(newest.toString())
          .clearPipelineSchedule().addAllPipelineSchedule(r.schedule.generationsProto());
      failure = r.failure;
      b.setReplication(replication(r));
      loaded = r.loaded.containsAll(r.uploadWorkers);
      updates = r.updates;
      skipped = r.skipped;
    }
    b.setState(failure != null ? ModelState.FAILED : loaded ? ModelState.READY : ModelState.LOADING);
    if (failure != null) {
      b.setFailure(failure);
    }
    List<ModelProgress> progress = progress(r);
    long step = progress.isEmpty() ? 0 : Long.MAX_VALUE;
    long pushes = 0;
    long duplicates = 0;
    for (ModelProgress p : progress) {
      step = Math.min(step, p.getStep());
      pushes += p.getPushes();
      duplicates += p.getDuplicates();
    }
    b.setStep(step).setPushes(pushes).setDuplicates(duplicates);
    if (r.spec.getMode() == TrainingMode.ASYNC) {
      updates = progress.stream().mapToLong(ModelProgress::getUpdatesApplied).min().orElse(0);
      skipped = progress.stream().mapToLong(ModelProgress::getStepsSkipped).min().orElse(0);
      b.clearNextPush().addAllNextPush(lowestNextPushes(progress, Math.max(1, r.spec.getTrainers())));
    }
    return b.setUpdatesApplied(updates).setStepsSkipped(skipped).build();
  }

  /**
   * Each worker's progress on the model, asked of it now; a worker that is not beating or does not
   * answer counts with its last heartbeat's (zero if none), so that status works while one is down.
   */
  private List<ModelProgress> progress(Record r) {
    List<ModelProgress> out = new ArrayList<>();
    r.addresses.forEach((worker, address) -> {
      ModelProgress p = null;
      if (workers.beating(worker)) {
        try {
          p = fleet.progress(address, r.name());
        } catch (RuntimeException e) {
          // unreachable or restarted: its heartbeat still says how far it got
        }
      }
      out.add(p != null ? p : workers.lastProgress(worker, r.name()).orElse(ModelProgress.getDefaultInstance()));
    });
    return out;
  }

  /** Per trainer, the lowest next push of the workers that report one for every trainer; empty when none does. */
  private static List<Long> lowestNextPushes(List<ModelProgress> progress, int trainers) {
    long[] lowest = null;
    for (ModelProgress p : progress) {
      if (p.getNextPushCount() != trainers) {
        continue; // a worker that never reported
      }
      if (lowest == null) {
        lowest = new long[trainers];
        Arrays.fill(lowest, Long.MAX_VALUE);
      }
      for (int t = 0; t < trainers; t++) {
        lowest[t] = Math.min(lowest[t], p.getNextPush(t));
      }
    }
    return lowest == null ? List.of() : LongStream.of(lowest).boxed().toList();
  }

  /** Steps are uint64 on the wire; one past Long.MAX_VALUE would read as negative here. */
  private static void checkStep(String field, long value) {
    if (value < 0) {
      throw ApiException.invalidArgument(field + " " + Long.toUnsignedString(value) + " is out of range: at most "
          + Long.MAX_VALUE);
    }
  }

  private static Map<String, List<Shard>> byWorker(List<Shard> shards) {
    Map<String, List<Shard>> out = new LinkedHashMap<>();
    for (Shard s : shards) {
      out.computeIfAbsent(s.getWorker(), w -> new ArrayList<>()).add(s);
    }
    return out;
  }
}
