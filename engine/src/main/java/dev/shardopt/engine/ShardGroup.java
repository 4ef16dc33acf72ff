package dev.shardopt.engine;

import dev.shardopt.dsl.ParameterSettings;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.engine.device.CpuBackend;
import dev.shardopt.engine.device.DeviceArray;
import dev.shardopt.engine.device.DeviceBackend;
import dev.shardopt.engine.device.DeviceMemoryException;
import dev.shardopt.engine.device.GradientReduction;
import dev.shardopt.engine.device.MemoryLimitedBackend;
import dev.shardopt.engine.kernel.ParallelApply;
import dev.shardopt.engine.kernel.StepScalars;
import dev.shardopt.engine.kernel.UpdateKernel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * The shards of one model held by one process, with their optimizer state, and the per-shard
 * stages of a step:
 *
 * <ol>
 *   <li>{@link #prepare}: the trainer mean (sum in trainer order, then divide by K) and the
 *       accumulation window (sum of the window's pushes in order, then divide by k; a tensor
 *       frozen in some of the window's pushes sums only those where it was active, still over k);
 *   <li>{@link #statistics}: per-block sums of squares (after clipValue) and the non-finite test,
 *       which a {@link StepDecider} turns into the global decision;
 *   <li>{@link #apply} or {@link #skip}: the fused kernel pass with the decision's scalars.
 * </ol>
 *
 * <p>The parameters, the optimizer state, the window sum and the scratch arrays live in a {@link
 * DeviceBackend}, allocated all at construction ({@link ShardArrays}); the trainers' gradients arrive
 * on the heap and are uploaded into per-trainer staging arrays, except on the cpu backend, whose
 * kernels read them where they are. The result is bitwise the same on every backend.
 *
 * <p>Nothing changes until a prepared step is applied or skipped, so a refused push leaves no
 * trace. Not thread-safe: callers serialize steps; {@link #validate} alone may run alongside.
 * {@link #close} frees the device arrays.
 */
public final class ShardGroup implements AutoCloseable {

  private static final class Slot {
    final int index;
    final ShardSpec spec;
    ParameterSettings settings;
    // False while the tensor has been frozen since the start: its state arrays hold nothing yet,
    // and get the kernel's initial state when it is first unfrozen (as the kernel then is).
    boolean stateCreated;
    // The window the window sum belongs to: a sum left from an earlier window (the tensor was
    // frozen since) must never be added to.
    long sumWindow = -1;

    Slot(int index, ShardSpec spec, ParameterSettings settings) {
      this.index = index;
      this.spec = spec;
      this.settings = settings;
    }

    boolean active() {
      return !settings.frozen() && spec.length() > 0;
    }
  }

  /** A step whose gradient is ready: one device array per shard, null for frozen ones. */
  public static final class PreparedStep {
    private final DeviceArray[] gradients;
    /** Each shard's reductions, computed with the gradient (DeviceBackend.stepGradient). */
    private final GradientReduction[] reductions;
    /** The clip value those reductions used. */
    private final float clipValue;

    private PreparedStep(DeviceArray[] gradients, GradientReduction[] reductions, float clipValue) {
      this.gradients = gradients;
      this.reductions = reductions;
      this.clipValue = clipValue;
    }
  }

  private final List<Slot> slots = new ArrayList<>();
  private final int trainers;
  private final DeviceBackend device;
  private final ParallelApply host;
  private final boolean onHeap;
  private final ShardArrays arrays;
  private Pipeline pipeline;
  private UpdateKernel kernel;
  private long updates;
  private long skipped;
  private int inWindow;
  private long window; // windows completed (applied or skipped)
  private boolean closed;

  /**
   * Allocates every array the shards need on {@code device} (parameters, state, scratch, window
   * sum, gradient staging for {@code trainers}) and uploads the initial values.
   *
   * @param initial initial values per shard, in the order of {@code shards} (copied); null for
   *     zeros, when a restore {@link #write writes} every array and then calls {@link
   *     #restore(long, long)}
   * @param device where the shards live (not owned: {@link #close} frees the arrays, not the device)
   * @param host runs {@link #validate}'s scan of the heap gradients
   * @throws DeviceMemoryException when the device has not the memory, naming the bytes needed and
   *     free; nothing stays allocated then
   */
  public ShardGroup(
      Pipeline pipeline, List<ShardSpec> shards, List<float[]> initial, int trainers, DeviceBackend device,
      ParallelApply host) {
    this.pipeline = Objects.requireNonNull(pipeline, "pipeline");
    this.device = Objects.requireNonNull(device, "device");
    this.host = Objects.requireNonNull(host, "host");
    if (trainers < 1) {
      throw new IllegalArgumentException("trainers must be >= 1, got " + trainers);
    }
    if (initial != null && shards.size() != initial.size()) {
      throw new IllegalArgumentException(shards.size() + " shards but " + initial.size() + " initial arrays");
    }
    this.trainers = trainers;
    this.kernel = UpdateKernels.forRule(pipeline.rule());
    for (int i = 0; i < shards.size(); i++) {
      ShardSpec s = shards.get(i);
      float[] values = initial == null ? null : initial.get(i);
      if (values != null && values.length != s.length()) {
        throw new IllegalArgumentException(
            "tensor '" + s.name() + "' has " + values.length + " values, expected " + s.length()
                + " for shape " + Arrays.toString(s.tensor().shape()));
      }
      Slot slot = new Slot(i, s, pipeline.settingsFor(s.name()));
      slot.stateCreated = !slot.settings.frozen();
      slots.add(slot);
    }
    this.onHeap = runsOnHeap(device);
    int k = pipeline.accumulateSteps();
    this.arrays = ShardArrays.allocate(device, shards,
        new ShardArrays.Layout(kernel.stateSlots().size(), trainers > 1 || k > 1, k > 1, onHeap ? 0 : trainers));
    try {
      for (Slot s : slots) {
        if (s.spec.length() > 0) {
          if (initial != null) { // freshly allocated arrays are zero already
            device.upload(initial.get(s.index), 0, arrays.param(s.index), 0, s.spec.length());
          }
          initState(s);
        }
      }
    } catch (RuntimeException | Error e) {
      arrays.close();
      throw e;
    }
  }

  /**
   * Whether the backend's arrays are heap arrays that {@link CpuBackend#view} can stand for: then
   * the trainers' gradients need no staging copy.
   */
  private static boolean runsOnHeap(DeviceBackend device) {
    DeviceBackend b = device;
    while (b instanceof MemoryLimitedBackend m) {
      b = m.inner();
    }
    return b instanceof CpuBackend;
  }

  /** Fills shard s's state with the current kernel's initial values (when it exists). */
  private void initState(Slot s) {
    DeviceArray[] st = arrays.state(s.index);
    for (int j = 0; j < st.length; j++) {
      float v = kernel.initialValue(j);
      if (v != 0f) {
        device.fill(st[j], v); // freshly allocated arrays are zero already
      }
    }
  }

  /** The backend the shards live in. */
  public DeviceBackend device() {
    return device;
  }

  /** The bytes this group's arrays hold on the device. */
  public long deviceBytes() {
    return arrays.bytes();
  }

  /** Frees the device arrays (idempotent); the group cannot be used afterwards. */
  @Override
  public void close() {
    if (!closed) {
      closed = true;
      arrays.close();
    }
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("this shard group was closed (its model deleted)");
    }
  }

  public Pipeline pipeline() {
    return pipeline;
  }

  public int trainers() {
    return trainers;
  }

  public int size() {
    return slots.size();
  }

  public ShardSpec shard(int i) {
    return slots.get(i).spec;
  }

  public List<ShardSpec> shards() {
    return slots.stream().map(s -> s.spec).toList();
  }

  /** Whether shard {@code i}'s tensor is frozen under the current pipeline. */
  public boolean frozen(int i) {
    return slots.get(i).settings.frozen();
  }

  /** t: updates applied. */
  public long updatesApplied() {
    return updates;
  }

  public long stepsSkipped() {
    return skipped;
  }

  /**
   * Copies {@code n} parameters of shard {@code i} from element {@code from} into {@code dst[dstFrom ...]}.
   *
   * @throws IndexOutOfBoundsException when a range is outside its array
   */
  public void readParameters(int i, int from, float[] dst, int dstFrom, int n) {
    checkOpen();
    Objects.checkFromIndexSize(from, n, slots.get(i).spec.length());
    Objects.checkFromIndexSize(dstFrom, n, dst.length);
    if (n > 0) {
      device.download(arrays.param(i), from, dst, dstFrom, n);
    }
  }

  /** A copy of shard {@code i}'s parameters. */
  public float[] parameters(int i) {
    float[] out = new float[slots.get(i).spec.length()];
    readParameters(i, 0, out, 0, out.length);
    return out;
  }

  /**
   * Shard {@code i}'s parameters on the heap for reading, without a copy where there is none to
   * make: on the cpu backend the live array (read it before the next step, never write it), on
   * another a fresh download.
   */
  public float[] parametersOnHost(int i) {
    checkOpen();
    DeviceArray p = arrays.param(i);
    return onHeap && p != null ? CpuBackend.heap(p) : parameters(i);
  }

  /** Overwrites part of shard {@code i}'s parameters (initial upload). */
  public void writeParameters(int i, int from, float[] values) {
    checkOpen();
    Objects.checkFromIndexSize(from, values.length, slots.get(i).spec.length());
    if (values.length > 0) {
      device.upload(values, 0, arrays.param(i), from, values.length);
    }
  }

  /** Shard {@code i}'s optimizer state by slot name (copies); empty when frozen since the start. */
  public java.util.Map<String, float[]> state(int i) {
    checkOpen();
    Slot s = slots.get(i);
    java.util.Map<String, float[]> out = new java.util.LinkedHashMap<>();
    if (s.stateCreated) {
      float[][] st = downloadState(s);
      for (int j = 0; j < st.length; j++) {
        out.put(kernel.stateSlots().get(j), st[j]);
      }
    }
    return out;
  }

  private float[][] downloadState(Slot s) {
    int n = s.spec.length();
    float[][] out = new float[kernel.stateSlots().size()][];
    for (int j = 0; j < out.length; j++) {
      out[j] = new float[n];
      if (n > 0) {
        device.download(arrays.state(s.index)[j], 0, out[j], 0, n);
      }
    }
    return out;
  }

  /** The optimizer state slots' names, in index order (e.g. exp_avg, exp_avg_sq). */
  public List<String> stateSlots() {
    return kernel.stateSlots();
  }

  /**
   * Shard {@code i}'s optimizer state, every slot copied, in {@link #stateSlots()} order. A tensor
   * whose state was never created (frozen from the start) gets the kernel's initial state: what
   * unfreezing it would create, so a checkpoint holds it whatever the tensor's freeze history.
   */
  public float[][] stateOrInitial(int i) {
    checkOpen();
    Slot s = slots.get(i);
    return s.stateCreated ? downloadState(s) : kernel.newState(s.spec.length());
  }

  /** {@link #read}'s and {@link #write}'s array index of a shard's parameters; 0, 1, ... are its state slots. */
  public static final int PARAMETERS = -1;

  /**
   * Copies {@code n} values of shard {@code i}'s array {@code array} ({@link #PARAMETERS} or a state
   * slot's index in {@link #stateSlots()}) from element {@code from} into {@code dst[dstFrom ...]}. A
   * state never created (frozen from the start) reads as the kernel's initial state, as {@link
   * #stateOrInitial} gives it.
   *
   * @throws IndexOutOfBoundsException when a range or the array index is outside its bounds
   */
  public void read(int i, int array, int from, float[] dst, int dstFrom, int n) {
    checkOpen();
    Slot s = slots.get(i);
    Objects.checkFromIndexSize(from, n, s.spec.length());
    Objects.checkFromIndexSize(dstFrom, n, dst.length);
    if (n == 0) {
      return;
    }
    if (array == PARAMETERS) {
      device.download(arrays.param(i), from, dst, dstFrom, n);
    } else if (s.stateCreated) {
      device.download(arrays.state(i)[Objects.checkIndex(array, kernel.stateSlots().size())], from, dst, dstFrom, n);
    } else {
      Arrays.fill(dst, dstFrom, dstFrom + n, kernel.initialValue(Objects.checkIndex(array, kernel.stateSlots().size())));
    }
  }

  /**
   * Overwrites {@code n} values of shard {@code i}'s array {@code array} ({@link #PARAMETERS} or a
   * state slot's index) from element {@code from} with {@code src[srcFrom ...]}: a restore writes
   * every array this way and then calls {@link #restore(long, long)}.
   *
   * @throws IndexOutOfBoundsException when a range or the array index is outside its bounds
   */
  public void write(int i, int array, int from, float[] src, int srcFrom, int n) {
    checkOpen();
    Slot s = slots.get(i);
    Objects.checkFromIndexSize(from, n, s.spec.length());
    Objects.checkFromIndexSize(srcFrom, n, src.length);
    if (n == 0) {
      return;
    }
    DeviceArray target = array == PARAMETERS ? arrays.param(i)
        : arrays.state(i)[Objects.checkIndex(array, kernel.stateSlots().size())];
    device.upload(src, srcFrom, target, from, n);
  }

  /**
   * Continues from a checkpoint taken at an update boundary whose parameters and state (for frozen
   * tensors too) were {@link #write written} into every array: sets the counters.
   *
   * @throws IllegalStateException inside an accumulation window (a checkpoint is never taken there)
   */
  public void restore(long updatesApplied, long stepsSkipped) {
    checkOpen();
    if (inWindow != 0) {
      throw new IllegalStateException("cannot restore inside an accumulation window (" + inWindow + " pushes in)");
    }
    for (Slot s : slots) {
      s.stateCreated = true;
      s.sumWindow = -1;
    }
    updates = updatesApplied;
    skipped = stepsSkipped;
    window = updatesApplied + stepsSkipped; // a window ends with each update or skip
  }

  /**
   * Continues from a checkpoint taken at an update boundary: the counters, and each shard's state
   * in {@link #stateSlots()} order (taken over, for frozen tensors too, so that unfreezing later
   * keeps what was checkpointed).
   *
   * @throws IllegalStateException inside an accumulation window (a checkpoint is never taken there)
   * @throws IllegalArgumentException when the state does not fit the shards
   */
  public void restore(long updatesApplied, long stepsSkipped, List<float[][]> state) {
    checkOpen();
    if (inWindow != 0) {
      throw new IllegalStateException("cannot restore inside an accumulation window (" + inWindow + " pushes in)");
    }
    if (state.size() != slots.size()) {
      throw new IllegalArgumentException(state.size() + " shards of state for " + slots.size() + " shards");
    }
    int n = kernel.stateSlots().size();
    for (int i = 0; i < slots.size(); i++) {
      float[][] st = state.get(i);
      if (st.length != n) {
        throw new IllegalArgumentException("shard " + i + " of '" + slots.get(i).spec.name() + "' has " + st.length
            + " state slots, the rule needs " + kernel.stateSlots());
      }
      for (float[] slot : st) {
        if (slot.length != slots.get(i).spec.length()) {
          throw new IllegalArgumentException("a state slot of '" + slots.get(i).spec.name() + "' has " + slot.length
              + " values, the shard " + slots.get(i).spec.length());
        }
      }
    }
    for (int i = 0; i < slots.size(); i++) {
      float[][] st = state.get(i);
      for (int j = 0; j < st.length; j++) {
        write(i, j, 0, st[j], 0, st[j].length);
      }
    }
    restore(updatesApplied, stepsSkipped);
  }

  /**
   * Switches to {@code next} from the next push on, also in the middle of an accumulation window
   * (freeze may change there: see {@link #prepare}). The rule and its optimizer state must stay
   * the same kind, and accumulate must not change.
   *
   * @throws IllegalArgumentException naming what may not change
   */
  public void setPipeline(Pipeline next) {
    checkOpen();
    checkCompatible(pipeline, next);
    UpdateKernel nextKernel = UpdateKernels.forRule(next.rule());
    List<ParameterSettings> settings = new ArrayList<>();
    for (Slot s : slots) {
      settings.add(next.settingsFor(s.spec.name()));
    }
    pipeline = next;
    kernel = nextKernel;
    for (int i = 0; i < slots.size(); i++) {
      Slot s = slots.get(i);
      s.settings = settings.get(i);
      if (!s.stateCreated && !s.settings.frozen()) {
        if (s.spec.length() > 0) {
          initState(s);
        }
        s.stateCreated = true;
      }
    }
  }

  /** Why {@code next} cannot replace {@code current} mid-run, as an exception; nothing when it can. */
  public static void checkCompatible(Pipeline current, Pipeline next) {
    if (!current.rule().name().equals(next.rule().name())) {
      throw new IllegalArgumentException(
          "the base rule cannot change mid-run (" + current.rule().name() + " -> " + next.rule().name()
              + "): its optimizer state would not carry over; create a new model instead");
    }
    List<String> before = UpdateKernels.forRule(current.rule()).stateSlots();
    List<String> after = UpdateKernels.forRule(next.rule()).stateSlots();
    if (!before.equals(after)) {
      throw new IllegalArgumentException(
          "the change alters the optimizer state " + before + " -> " + after
              + " (amsgrad, centered or momentum switched on or off); only values may change mid-run");
    }
    if (current.accumulateSteps() != next.accumulateSteps()) {
      throw new IllegalArgumentException(
          "accumulate cannot change mid-run (" + current.accumulateSteps() + " -> " + next.accumulateSteps() + ")");
    }
  }

  /**
   * Checks one trainer's gradient: one array per shard, of the shard's length; frozen shards may
   * be null. Without skipNonFinite a NaN or Inf is refused here.
   *
   * @throws InvalidGradientException naming the tensor and the index within it
   */
  public void validate(int trainer, float[][] gradient) {
    validate(pipeline, trainer, gradient);
  }

  /**
   * {@link #validate(int, float[][])} under {@code p} instead of the current pipeline (the one in
   * force at the push's step). Reads only the shards' fixed layout, so it may run concurrently with
   * a step.
   */
  public void validate(Pipeline p, int trainer, float[][] gradient) {
    validate(p, trainer, gradient, null);
  }

  /**
   * As {@link #validate(Pipeline, int, float[][])}; {@code firstNonFinite}, when not null, holds per
   * shard the index of its array's first NaN or Inf (-1: none), found by whoever filled the arrays
   * (a worker, while it decoded the push), so no scan of its own is needed.
   */
  public void validate(Pipeline p, int trainer, float[][] gradient, int[] firstNonFinite) {
    if (firstNonFinite != null && firstNonFinite.length != gradient.length) {
      throw new IllegalArgumentException("firstNonFinite has " + firstNonFinite.length + " entries for "
          + gradient.length + " gradient arrays");
    }
    if (gradient.length != slots.size()) {
      throw new InvalidGradientException(
          "a gradient needs one array per shard: expected " + slots.size() + ", got " + gradient.length);
    }
    for (int i = 0; i < slots.size(); i++) {
      Slot s = slots.get(i);
      float[] g = gradient[i];
      boolean frozen = p.settingsFor(s.spec.name()).frozen();
      if (g == null) {
        if (frozen || s.spec.length() == 0) {
          continue;
        }
        throw new InvalidGradientException(who(trainer) + "no gradient for '" + s.spec.name() + "'");
      }
      if (g.length != s.spec.length()) {
        throw new InvalidGradientException(
            who(trainer) + "the gradient of '" + s.spec.name() + "' has " + g.length + " values, expected "
                + s.spec.length() + (s.spec.length() == s.spec.tensor().size()
                    ? " for shape " + Arrays.toString(s.spec.tensor().shape())
                    : " for elements [" + s.spec.offset() + ", " + (s.spec.offset() + s.spec.length()) + ")"));
      }
      if (!p.skipsNonFinite() && !frozen && s.spec.length() > 0) {
        int at = firstNonFinite != null ? firstNonFinite[i] : host.firstNonFinite(g);
        if (at >= 0) {
          throw new InvalidGradientException(
              who(trainer) + "the gradient of '" + s.spec.name() + "' is " + g[at] + " at index "
                  + ((long) s.spec.offset() + at) + "; nothing was applied (add .skipNonFinite() to skip such steps)");
        }
      }
    }
  }

  private String who(int trainer) {
    return trainers == 1 ? "" : "trainer " + trainer + ": ";
  }

  /**
   * Stage one: the trainer mean, into the accumulation window, with stage two's reductions in the
   * same pass ({@link #statistics} then hands them out). {@code gradients.get(r)[i]} is trainer r's
   * gradient for shard i, already {@link #validate validated}.
   *
   * @return the step to decide on, or null when the push only filled the window (it is then
   *     recorded: the window advanced)
   */
  public PreparedStep prepare(List<float[][]> gradients) {
    return prepare(gradients, true);
  }

  /**
   * {@link #prepare(List)}, computing the reductions only when {@code withStatistics}: an ASYNC
   * push takes its decision from the trainer's own statistics and would waste the pass. Without
   * them, {@link #statistics} computes them when asked.
   */
  public PreparedStep prepare(List<float[][]> gradients, boolean withStatistics) {
    checkOpen();
    if (gradients.size() != trainers) {
      throw new InvalidGradientException(
          "a push needs one gradient per trainer: expected " + trainers + ", got " + gradients.size());
    }
    int k = pipeline.accumulateSteps();
    boolean last = inWindow + 1 == k;
    float clipValue = (float) pipeline.clipValueLimit().orElse(Double.POSITIVE_INFINITY);
    DeviceArray[] step = new DeviceArray[slots.size()];
    GradientReduction[] reductions = new GradientReduction[slots.size()];
    for (int i = 0; i < slots.size(); i++) {
      Slot s = slots.get(i);
      if (!s.active()) {
        continue;
      }
      if (!last) {
        addToWindow(s, trainerMean(s, gradients));
        continue;
      }
      if (!withStatistics) {
        DeviceArray pushed = trainerMean(s, gradients);
        step[i] = k == 1 ? pushed : windowMean(s, pushed, k);
        continue;
      }
      // The trainer mean, the window mean and the statistics in one call: one pass over memory
      // on the cpu backend (issue 11 §2); the same arrays and bits as trainerMean + windowMean.
      List<DeviceArray> pushed = new ArrayList<>(trainers);
      for (int r = 0; r < trainers; r++) {
        pushed.add(onDevice(s, r, gradients.get(r)[s.index]));
      }
      boolean inPlace = trainers == 1 && k == 1;
      DeviceArray out = inPlace ? null : arrays.scratch(s.index);
      DeviceArray windowSum = k > 1 && s.sumWindow == window ? arrays.windowSum(s.index) : null;
      reductions[i] = device.stepGradient(pushed, windowSum, k, out, clipValue);
      step[i] = inPlace ? pushed.get(0) : out;
    }
    if (!last) {
      inWindow++;
      return null;
    }
    return new PreparedStep(step, reductions, clipValue);
  }

  /** Stage two: per-block sums of squares after clipValue, and the first non-finite element. */
  public List<BlockStatistics> statistics(PreparedStep step) {
    checkOpen();
    float clipValue = (float) pipeline.clipValueLimit().orElse(Double.POSITIVE_INFINITY);
    List<BlockStatistics> out = new ArrayList<>();
    for (int i = 0; i < slots.size(); i++) {
      DeviceArray g = step.gradients[i];
      if (g == null) {
        continue;
      }
      ShardSpec spec = slots.get(i).spec;
      GradientReduction r = step.reductions[i] != null && step.clipValue == clipValue
          ? step.reductions[i]
          : device.reduce(g, clipValue);
      int bad = r.firstNonFinite();
      out.add(new BlockStatistics(spec.tensorIndex(), spec.firstBlock(), bad >= 0 ? new double[0] : r.blockSums(),
          bad < 0 ? -1 : (long) spec.offset() + bad));
    }
    return out;
  }

  /** Stage three: the fused kernel pass over every active shard. */
  public void apply(PreparedStep step, UpdateDecision d) {
    if (!d.applies()) {
      skip(step);
      return;
    }
    checkOpen();
    if (d.update() != updates) {
      throw new IllegalStateException("decision for update " + d.update() + " but this group is at " + updates);
    }
    float clipValue = (float) pipeline.clipValueLimit().orElse(Double.POSITIVE_INFINITY);
    boolean decoupled = pipeline.rule().decoupledWeightDecay();
    for (int i = 0; i < slots.size(); i++) {
      DeviceArray g = step.gradients[i];
      if (g == null) {
        continue;
      }
      Slot s = slots.get(i);
      ParameterSettings ps = s.settings;
      StepScalars scalars =
          new StepScalars(
              updates + 1,
              d.learningRate() * ps.lrScale(),
              clipValue,
              d.clipScale(),
              decoupled ? 0f : (float) ps.weightDecay(),
              decoupled ? ps.weightDecay() : 0.0);
      device.apply(kernel, arrays.param(i), g, arrays.state(i), scalars);
    }
    updates++;
    endWindow();
  }

  /** skipNonFinite: the window is consumed, nothing else changes. */
  public void skip(PreparedStep step) {
    Objects.requireNonNull(step, "step");
    skipped++;
    endWindow();
  }

  private void endWindow() {
    inWindow = 0;
    window++;
  }

  // ---------------------------------------------------------------- buffers

  /** Trainer r's heap gradient of shard s on the device: itself on the cpu backend, else uploaded to staging. */
  private DeviceArray onDevice(Slot s, int trainer, float[] g) {
    if (onHeap) {
      return CpuBackend.view(g);
    }
    DeviceArray staged = arrays.staging(s.index, trainer);
    device.upload(g, 0, staged, 0, g.length);
    return staged;
  }

  private DeviceArray trainerMean(Slot s, List<float[][]> gradients) {
    if (trainers == 1) {
      return onDevice(s, 0, gradients.get(0)[s.index]);
    }
    List<DeviceArray> pushed = new ArrayList<>(trainers);
    for (int r = 0; r < trainers; r++) {
      pushed.add(onDevice(s, r, gradients.get(r)[s.index]));
    }
    DeviceArray out = arrays.scratch(s.index);
    device.trainerMean(pushed, out);
    return out;
  }

  private void addToWindow(Slot s, DeviceArray pushed) {
    DeviceArray sum = arrays.windowSum(s.index);
    if (s.sumWindow != window) {
      device.copy(pushed, sum);
      s.sumWindow = window;
    } else {
      device.addInPlace(sum, pushed);
    }
  }

  /**
   * (window sum + this push) / k, into the scratch array (which may hold this push: in place); the
   * window sum is left as it was. A tensor active in none of the window's earlier pushes has no
   * sum: this push / k.
   */
  private DeviceArray windowMean(Slot s, DeviceArray pushed, int k) {
    DeviceArray out = arrays.scratch(s.index);
    device.windowMean(s.sumWindow != window ? null : arrays.windowSum(s.index), pushed, (float) k, out);
    return out;
  }
}
