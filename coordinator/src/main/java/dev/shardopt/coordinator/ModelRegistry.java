package dev.shardopt.coordinator;

import dev.shardopt.v1.OptimizerPipeline;
import dev.shardopt.dsl.InvalidPipelineException;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.rpc.ApiException;
import dev.shardopt.v1.CreateShardsRequest;
import dev.shardopt.v1.Initializer;
import dev.shardopt.v1.Model;
import dev.shardopt.v1.ModelMetrics;
import dev.shardopt.v1.ModelProgress;
import dev.shardopt.v1.ModelState;
import dev.shardopt.v1.Shard;
import dev.shardopt.v1.ShardMap;
import dev.shardopt.v1.StepMetrics;
import dev.shardopt.v1.TensorSpec;
import dev.shardopt.v1.TrainingMode;
import dev.shardopt.engine.ShardGroup;
import dev.shardopt.engine.BlockStatistics;
import dev.shardopt.engine.StepDecider;
import dev.shardopt.engine.UpdateDecision;
import dev.shardopt.engine.kernel.ReductionBlocks;
import dev.shardopt.engine.InitialValues;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.regex.Pattern;

/**
 * The models of the cluster: creation (validation, placement, shards on workers), the shard map,
 * pipeline changes, each model's step barrier and decisions, and per-step metrics.
 */
public final class ModelRegistry {
  private static final Pattern MODEL_ID = Pattern.compile("[a-z0-9][a-z0-9._-]{0,62}");
  static final int METRICS_KEPT = 100_000;

  /** One model, as the coordinator knows it. */
  private final class Record {
    final Model spec;
    final List<Shard> shards;
    final List<String> tensorNames;
    final TreeMap<Long, Pipeline> pipelines = new TreeMap<>();
    final Set<String> participants;
    final Set<String> loaded = new HashSet<>();
    final StepBarrier barrier;
    final Deque<StepMetrics> metrics = new ArrayDeque<>();
    long updates;
    long skipped;
    String failure;
    long lastDecisionMillis;

    Record(Model spec, List<Shard> shards, Pipeline pipeline) {
      this.spec = spec;
      this.shards = shards;
      this.tensorNames = spec.getTensorsList().stream().map(TensorSpec::getName).toList();
      this.pipelines.put(0L, pipeline);
      this.participants = new LinkedHashSet<>();
      shards.forEach(s -> participants.add(s.getWorker()));
      this.barrier = new StepBarrier(spec.getName(), participants, timer, config.barrierTimeoutMillis(),
          this::decide, this::timedOut, ms -> lastDecisionMillis = ms);
    }

    /** Phase two: called once per step by the barrier (under its lock). */
    UpdateDecision decide(long step, List<BlockStatistics> stats) {
      Pipeline p;
      synchronized (ModelRegistry.this) {
        p = pipelines.floorEntry(step).getValue();
      }
      UpdateDecision d;
      synchronized (this) {
        d = StepDecider.decide(p, updates, stats, tensorNames);
        if (d.applies()) {
          updates++;
        } else {
          skipped++;
        }
        metrics.addLast(StepMetrics.newBuilder().setStep(step).setUpdate(d.update()).setSkipped(!d.applies())
            .setLearningRate(d.applies() ? d.learningRate() : Double.NaN)
            .setGradientNorm(d.gradientNorm())
            .setClippedNorm(d.applies() ? d.gradientNorm() * d.clipScale() : Double.NaN)
            .setBarrierWaitMillis(lastDecisionMillis).build());
        if (metrics.size() > METRICS_KEPT) {
          metrics.removeFirst();
        }
      }
      return d;
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
      String msg = "step " + step + " of " + spec.getName() + " did not complete within " + config.barrierTimeoutMillis()
          + " ms: " + String.join(", ", missing) + " did not report (" + why + ")";
      synchronized (ModelRegistry.this) {
        failure = msg;
      }
      return ApiException.unavailable(msg);
    }
  }

  private final Map<String, Record> models = new LinkedHashMap<>();
  private final WorkerRegistry workers;
  private final WorkerFleet fleet;
  private final ScheduledExecutorService timer;
  private final CoordinatorConfig config;

  public ModelRegistry(WorkerRegistry workers, WorkerFleet fleet, ScheduledExecutorService timer, CoordinatorConfig config) {
    this.workers = workers;
    this.fleet = fleet;
    this.timer = timer;
    this.config = config;
  }

  // ---------------------------------------------------------------- create, get, list, delete

  /** Validates, places and creates a model; on any failure nothing is left behind. */
  public Model create(String modelId, Model requested) {
    if (modelId == null || !MODEL_ID.matcher(modelId).matches()) {
      throw ApiException.invalidArgument("model_id must match " + MODEL_ID.pattern() + ", got '" + modelId + "'");
    }
    String name = "models/" + modelId;
    Pipeline pipeline = pipeline(requested.hasPipeline() ? requested.getPipeline() : null, "model.pipeline");
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
      for (long d : t.getShapeList()) {
        if (d < 0) {
          throw ApiException.invalidArgument("tensor '" + t.getName() + "' has a negative dimension in shape " + t.getShapeList());
        }
        n = Math.multiplyExact(n, d);
      }
      if (n > Integer.MAX_VALUE - 8) {
        throw ApiException.invalidArgument("tensor '" + t.getName() + "' has " + n + " elements; at most "
            + (Integer.MAX_VALUE - 8) + " per tensor (split it)");
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

    List<ShardPlanner.WorkerSlot> healthy = workers.healthyWorkers();
    if (healthy.isEmpty()) {
      throw ApiException.unavailable("no healthy workers to hold " + name + "; start a worker with --coordinator");
    }
    Model spec = requested.toBuilder().setName(name).setTrainers(trainers).setMode(mode)
        .setPipeline(pipeline.toProto()).setPipelineText(pipeline.toString())
        .setState(upload ? ModelState.LOADING : ModelState.READY).clearStep().clearFailure().build();
    List<Shard> shards = ShardPlanner.plan(names, sizes, healthy, config.maxShardBlocks());
    synchronized (this) {
      if (models.containsKey(name)) {
        throw ApiException.alreadyExists(name + " already exists; delete it first or choose another model_id");
      }
      models.put(name, null); // reserved while the workers create their shards
    }
    Map<String, List<Shard>> byWorker = byWorker(shards);
    List<String> created = new ArrayList<>();
    try {
      for (Map.Entry<String, List<Shard>> e : byWorker.entrySet()) {
        String address = e.getValue().get(0).getAddress();
        fleet.createShards(address, CreateShardsRequest.newBuilder().setModel(spec).addAllShards(e.getValue()).build());
        created.add(address);
      }
    } catch (RuntimeException e) {
      for (String address : created) {
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
      models.put(name, new Record(spec, shards, pipeline));
    }
    return describe(name);
  }

  public synchronized Model get(String name) {
    return describe(name);
  }

  public synchronized List<Model> list() {
    List<Model> out = new ArrayList<>();
    for (Map.Entry<String, Record> e : models.entrySet()) {
      if (e.getValue() != null) {
        out.add(describe(e.getKey()));
      }
    }
    return out;
  }

  public void delete(String name) {
    Record r;
    synchronized (this) {
      r = record(name);
      models.remove(name);
    }
    r.barrier.close(ApiException.notFound(name + " was deleted"));
    for (String address : addresses(r)) {
      try {
        fleet.dropModel(address, name);
      } catch (RuntimeException ignored) {
        // an unreachable worker drops the model when it restarts
      }
    }
  }

  public synchronized ShardMap shardMap(String name) {
    Record r = record(name);
    return ShardMap.newBuilder().setModel(name).addAllShards(r.shards).setBlockSize(ReductionBlocks.BLOCK).build();
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

  // ---------------------------------------------------------------- pipeline changes

  /** The new pipeline takes effect at {@code atStep} on every shard, or nowhere. */
  public Model updatePipeline(String name, OptimizerPipeline proto, long atStep) {
    Pipeline next = pipeline(proto, "pipeline");
    Record r;
    Pipeline current;
    synchronized (this) {
      r = record(name);
      current = r.pipelines.lastEntry().getValue();
      if (atStep < r.pipelines.lastKey()) {
        throw ApiException.failedPrecondition("a pipeline change at step " + r.pipelines.lastKey()
            + " is already scheduled; a new one must come at that step or later, got " + atStep);
      }
    }
    try {
      ShardGroup.checkCompatible(current, next);
    } catch (IllegalArgumentException e) {
      throw ApiException.failedPrecondition(e.getMessage());
    }
    for (String tensor : r.tensorNames) {
      try {
        next.settingsFor(tensor);
      } catch (InvalidPipelineException e) {
        throw ApiException.invalidArgument("pipeline: " + e.getMessage());
      }
    }
    // TODO(issue 7, section 2): the workers follow the schedule through GetPipelineSchedule.
    synchronized (this) {
      r.pipelines.put(atStep, next);
      return describe(name);
    }
  }

  // ---------------------------------------------------------------- steps

  /** Phase one of a synchronous step; {@code reply} gets the decision once every worker reported. */
  public void reportStep(String name, String worker, long step, List<BlockStatistics> stats, StepBarrier.Reply reply) {
    Record r;
    synchronized (this) {
      r = record(name);
      if (r.spec.getMode() == TrainingMode.ASYNC) {
        throw ApiException.failedPrecondition(name + " is ASYNC: its steps need no barrier");
      }
    }
    r.barrier.report(worker, step, stats, reply);
  }

  public void reportLoaded(String name, String worker) {
    synchronized (this) {
      Record r = record(name);
      r.loaded.add(worker);
    }
  }

  public ModelMetrics metrics(String name, long fromStep) {
    Record r;
    synchronized (this) {
      r = record(name);
    }
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

  private Record record(String name) {
    Record r = models.get(name);
    if (r == null) {
      throw ApiException.notFound(name + " not found" + (name.startsWith("models/") ? "" : "; model names look like 'models/{id}'"));
    }
    return r;
  }

  private Model describe(String name) {
    Record r = record(name);
    Model.Builder b = r.spec.toBuilder();
    Pipeline latest = r.pipelines.lastEntry().getValue();
    b.setPipeline(latest.toProto()).setPipelineText(latest.toString());
    boolean loaded = r.loaded.containsAll(uploadWorkers(r));
    b.setState(failure(r) != null ? ModelState.FAILED : loaded ? ModelState.READY : ModelState.LOADING);
    if (failure(r) != null) {
      b.setFailure(failure(r));
    }
    List<ModelProgress> progress = workers.progress(name);
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
      long updates = progress.stream().mapToLong(ModelProgress::getUpdatesApplied).min().orElse(0);
      long skipped = progress.stream().mapToLong(ModelProgress::getStepsSkipped).min().orElse(0);
      b.setUpdatesApplied(updates).setStepsSkipped(skipped);
    } else {
      synchronized (r) {
        b.setUpdatesApplied(r.updates).setStepsSkipped(r.skipped);
      }
    }
    return b.build();
  }

  private String failure(Record r) {
    return r.failure;
  }

  private Set<String> uploadWorkers(Record r) {
    Set<String> out = new HashSet<>();
    for (Shard s : r.shards) {
      if (s.getLength() > 0 && r.spec.getTensors(s.getTensorIndex()).getInit().getKindCase() == Initializer.KindCase.UPLOAD) {
        out.add(s.getWorker());
      }
    }
    return out;
  }

  private static Collection<String> addresses(Record r) {
    Set<String> out = new LinkedHashSet<>();
    r.shards.forEach(s -> out.add(s.getAddress()));
    return out;
  }

  private static Map<String, List<Shard>> byWorker(List<Shard> shards) {
    Map<String, List<Shard>> out = new LinkedHashMap<>();
    for (Shard s : shards) {
      out.computeIfAbsent(s.getWorker(), w -> new ArrayList<>()).add(s);
    }
    return out;
  }

  private static Pipeline pipeline(OptimizerPipeline proto, String field) {
    if (proto == null) {
      throw ApiException.invalidArgument(field + " is missing; send the pipeline, e.g. the proto of adam(1e-3)");
    }
    try {
      return Pipeline.fromProto(proto);
    } catch (InvalidPipelineException e) {
      throw ApiException.invalidArgument(field + ": " + e.getMessage());
    }
  }
}
