package dev.shardopt.worker.store;

import dev.shardopt.rpc.ApiException;
import dev.shardopt.v1.CreateShardsRequest;
import dev.shardopt.v1.Initializer;
import dev.shardopt.v1.Model;
import dev.shardopt.v1.RestoreSpec;
import dev.shardopt.v1.Shard;
import dev.shardopt.v1.TensorSpec;
import dev.shardopt.engine.InitialValues;
import dev.shardopt.engine.ShardSpec;
import dev.shardopt.engine.TensorShape;
import dev.shardopt.engine.UpdateKernels;
import dev.shardopt.engine.device.DeviceBackend;
import dev.shardopt.engine.device.DeviceMemoryException;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.engine.kernel.ParallelApply;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicLong;

/** Every model's shards on this worker, by model name. */
public final class ShardStore {
  private final Map<String, WorkerModel> models = new ConcurrentHashMap<>();
  private final Map<String, ExecutorService> executors = new ConcurrentHashMap<>();
  private final StepCoordinator coordinator;
  private final DeviceBackend device;
  private final ParallelApply parallel;
  private final ScheduledExecutorService timeouts;
  private final WorkerCheckpoints checkpoints;
  private final AtomicLong bytesIn = new AtomicLong();
  private final AtomicLong bytesOut = new AtomicLong();

  /**
   * @param device where every model's shards live (not owned)
   * @param parallel checks the incoming heap gradients
   * @param timeouts runs the timeouts of every model's waiting pulls, pushes and snapshots (not owned)
   * @param checkpoints what models write their checkpoints with (not owned)
   */
  public ShardStore(StepCoordinator coordinator, DeviceBackend device, ParallelApply parallel,
      ScheduledExecutorService timeouts, WorkerCheckpoints checkpoints) {
    this.coordinator = coordinator;
    this.device = device;
    this.parallel = parallel;
    this.timeouts = timeouts;
    this.checkpoints = checkpoints;
  }

  /**
   * Creates this worker's shards of a model, filled from the tensors' initializers. Upload tensors
   * wait for {@link WorkerModel#writeParameters}; the worker then reports them loaded. With
   * {@code request.restore}, the shards and their optimizer state are read from the checkpoint
   * instead, and the model continues from its step at once. Nothing is kept when this fails.
   *
   * @throws ApiException RESOURCE_EXHAUSTED when the device has not the memory, naming the bytes
   *     needed and free and this worker; nothing is allocated then
   */
  public WorkerModel create(CreateShardsRequest request) {
    Model spec = request.getModel();
    String name = spec.getName();
    if (models.containsKey(name)) {
      throw ApiException.alreadyExists(name + " already has shards on this worker");
    }
    List<String> tensorNames = spec.getTensorsList().stream().map(TensorSpec::getName).toList();
    List<ShardSpec> shards = new ArrayList<>();
    List<float[]> initial = new ArrayList<>();
    List<Initializer.KindCase> initializers = new ArrayList<>();
    for (Shard s : request.getShardsList()) {
      int index = s.getTensorIndex();
      if (index < 0 || index >= spec.getTensorsCount() || !spec.getTensors(index).getName().equals(s.getTensor())) {
        throw ApiException.invalidArgument("shard names tensor '" + s.getTensor() + "' at index " + index
            + ", which does not match the model's tensors " + tensorNames);
      }
      TensorSpec t = spec.getTensors(index);
      TensorShape tensor =
          new TensorShape(t.getName(), t.getShapeList().stream().mapToLong(Long::longValue).toArray());
      // Checked against the tensor before anything is allocated from them: both are uint64 on the
      // wire (negative here past 2^63), and the initial values' array is sized by the length.
      long size = tensor.size();
      if (s.getOffset() < 0 || s.getLength() < 0 || s.getOffset() > size || s.getLength() > size - s.getOffset()) {
        throw ApiException.invalidArgument("shard [" + Long.toUnsignedString(s.getOffset()) + ", +"
            + Long.toUnsignedString(s.getLength()) + ") of '" + t.getName() + "' is outside the tensor's "
            + size + " elements");
      }
      ShardSpec shard = new ShardSpec(index, tensor, (int) s.getOffset(), (int) s.getLength());
      if (!request.hasRestore() && !request.hasCopyOf()) { // a restore or copy fills them instead
        float[] values = new float[shard.length()];
        InitialValues.fill(t.getInit(), shard.offset(), values);
        initial.add(values);
      }
      initializers.add(t.getInit().getKindCase());
      shards.add(shard);
    }
    if (request.hasRestore() && request.hasCopyOf()) {
      throw ApiException.invalidArgument("restore and copy_of are both set; a model's shards come from a checkpoint or"
          + " from a copy of live ones, not both");
    }
    RestoredShards restored = request.hasRestore() ? restore(request.getRestore(), spec, shards)
        : request.hasCopyOf() ? RestoredShards.copyAt(request.getCopyOf().getStep(),
            request.getCopyOf().getUpdatesApplied(), request.getCopyOf().getStepsSkipped()) : null;
    ExecutorService steps = Executors.newSingleThreadExecutor(r -> {
      Thread th = new Thread(r, "step-" + name);
      th.setDaemon(true);
      return th;
    });
    WorkerModel model;
    try {
      model = new WorkerModel(spec, shards, initial, initializers, restored, coordinator, device, parallel, steps,
          timeouts, checkpoints);
    } catch (DeviceMemoryException e) {
      steps.shutdownNow();
      throw ApiException.resourceExhausted(checkpoints.workerName().get() + " cannot hold its shards of " + name + ": "
          + e.getMessage() + "; spread the model over more workers or use a device with more memory");
    } catch (RuntimeException e) {
      steps.shutdownNow();
      throw e instanceof ApiException ? e : ApiException.invalidArgument(e.getMessage());
    }
    if (models.putIfAbsent(name, model) != null) { // a concurrent create of the same name won
      model.drop();
      steps.shutdownNow();
      throw ApiException.alreadyExists(name + " already has shards on this worker");
    }
    executors.put(name, steps);
    return model;
  }

  private RestoredShards restore(RestoreSpec restore, Model spec, List<ShardSpec> shards) {
    List<String> slots;
    try {
      slots = UpdateKernels.forRule(Pipeline.fromProto(spec.getPipeline()).rule()).stateSlots();
    } catch (IllegalArgumentException e) {
      throw ApiException.invalidArgument("pipeline: " + e.getMessage());
    }
    return ShardRestore.of(restore, spec.getName(), slots, checkpoints.workerName().get());
  }

  /** The model, or NOT_FOUND. */
  public WorkerModel get(String name) {
    WorkerModel m = models.get(name);
    if (m == null) {
      throw ApiException.notFound(name + " not found on this worker"
          + (name.startsWith("models/") ? "" : "; model names look like 'models/{id}'"));
    }
    return m;
  }

  public void drop(String name) {
    WorkerModel m = models.remove(name);
    if (m != null) {
      m.drop();
    }
    ExecutorService e = executors.remove(name);
    if (e != null) {
      e.shutdownNow();
    }
  }

  /**
   * Fails each model of {@code fenced} (by name, with why, as the coordinator's heartbeat answer
   * names them) that this worker holds: it serves and applies nothing more of it. Names it does not
   * hold (dropped meanwhile) are skipped.
   *
   * @return the models this call failed, each once: those that had failed before are left out
   */
  public List<String> fenceOff(Map<String, String> fenced) {
    List<String> now = new ArrayList<>();
    fenced.forEach((name, why) -> {
      WorkerModel m = models.get(name);
      if (m != null && m.fenceOff(why)) {
        now.add(name);
      }
    });
    return now;
  }

  public List<WorkerModel> models() {
    return List.copyOf(models.values());
  }

  public void countIn(long bytes) {
    bytesIn.addAndGet(bytes);
  }

  public void countOut(long bytes) {
    bytesOut.addAndGet(bytes);
  }

  public long bytesIn() {
    return bytesIn.get();
  }

  public long bytesOut() {
    return bytesOut.get();
  }

  /** Where the shards live. */
  public DeviceBackend device() {
    return device;
  }

  public void close() {
    for (String name : List.copyOf(models.keySet())) {
      drop(name);
    }
  }
}
