package dev.shardopt.engine;

import dev.shardopt.dsl.ParameterSettings;
import dev.shardopt.dsl.Pipeline;
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
 * <p>Nothing changes until a prepared step is applied or skipped, so a refused push leaves no
 * trace. Not thread-safe: callers serialize steps.
 */
public final class ShardGroup {

  private static final class Slot {
    final ShardSpec spec;
    ParameterSettings settings;
    final float[] param;
    float[][] state;
    float[] windowSum;
    // The window windowSum belongs to: a sum left from an earlier window (the tensor was frozen
    // since) must never be added to.
    long sumWindow = -1;
    float[] scratch;

    Slot(ShardSpec spec, ParameterSettings settings, float[] param) {
      this.spec = spec;
      this.settings = settings;
      this.param = param;
    }

    boolean active() {
      return !settings.frozen() && spec.length() > 0;
    }
  }

  /** A step whose gradient is ready: one array per shard, null for frozen ones. */
  public static final class PreparedStep {
    private final float[][] gradients;

    private PreparedStep(float[][] gradients) {
      this.gradients = gradients;
    }

    /** The step's gradient of shard {@code i} (null when frozen). */
    public float[] gradient(int i) {
      return gradients[i];
    }
  }

  private final List<Slot> slots = new ArrayList<>();
  private final int trainers;
  private final ParallelApply parallel;
  private Pipeline pipeline;
  private UpdateKernel kernel;
  private long updates;
  private long skipped;
  private int inWindow;
  private long window; // windows completed (applied or skipped)

  /**
   * @param initial initial values per shard, in the order of {@code shards} (copied)
   */
  public ShardGroup(
      Pipeline pipeline, List<ShardSpec> shards, List<float[]> initial, int trainers, ParallelApply parallel) {
    this.pipeline = Objects.requireNonNull(pipeline, "pipeline");
    this.parallel = Objects.requireNonNull(parallel, "parallel");
    if (trainers < 1) {
      throw new IllegalArgumentException("trainers must be >= 1, got " + trainers);
    }
    if (shards.size() != initial.size()) {
      throw new IllegalArgumentException(shards.size() + " shards but " + initial.size() + " initial arrays");
    }
    this.trainers = trainers;
    this.kernel = UpdateKernels.forRule(pipeline.rule());
    for (int i = 0; i < shards.size(); i++) {
      ShardSpec s = shards.get(i);
      float[] values = initial.get(i);
      if (values.length != s.length()) {
        throw new IllegalArgumentException(
            "tensor '" + s.name() + "' has " + values.length + " values, expected " + s.length()
                + " for shape " + Arrays.toString(s.tensor().shape()));
      }
      Slot slot = new Slot(s, pipeline.settingsFor(s.name()), values.clone());
      slot.state = slot.settings.frozen() ? null : kernel.newState(s.length());
      slots.add(slot);
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

  /** Shard {@code i}'s parameters, live: callers must copy before the next step if they keep them. */
  public float[] parametersView(int i) {
    return slots.get(i).param;
  }

  /** Overwrites part of shard {@code i}'s parameters (initial upload). */
  public void writeParameters(int i, int from, float[] values) {
    float[] p = slots.get(i).param;
    Objects.checkFromIndexSize(from, values.length, p.length);
    System.arraycopy(values, 0, p, from, values.length);
  }

  /** Shard {@code i}'s optimizer state by slot name (copies); empty when frozen. */
  public java.util.Map<String, float[]> state(int i) {
    Slot s = slots.get(i);
    java.util.Map<String, float[]> out = new java.util.LinkedHashMap<>();
    if (s.state != null) {
      for (int j = 0; j < s.state.length; j++) {
        out.put(kernel.stateSlots().get(j), s.state[j].clone());
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
    Slot s = slots.get(i);
    if (s.state == null) {
      return kernel.newState(s.spec.length());
    }
    float[][] out = new float[s.state.length][];
    for (int j = 0; j < out.length; j++) {
      out[j] = s.state[j].clone();
    }
    return out;
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
      slots.get(i).state = state.get(i);
      slots.get(i).sumWindow = -1;
    }
    updates = updatesApplied;
    skipped = stepsSkipped;
    window = updatesApplied + stepsSkipped; // a window ends with each update or skip
  }

  /**
   * Switches to {@code next} from the next push on, also in the middle of an accumulation window
   * (freeze may change there: see {@link #prepare}). The rule and its optimizer state must stay
   * the same kind, and accumulate must not change.
   *
   * @throws IllegalArgumentException naming what may not change
   */
  public void setPipeline(Pipeline next) {
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
      if (s.state == null && !s.settings.frozen()) {
        s.state = kernel.newState(s.spec.length());
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
        int at = parallel.firstNonFinite(g);
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
   * Stage one: the trainer mean, into the accumulation window. {@code gradients.get(r)[i]} is
   * trainer r's gradient for shard i, already {@link #validate validated}.
   *
   * @return the step to decide on, or null when the push only filled the window (it is then
   *     recorded: the window advanced)
   */
  public PreparedStep prepare(List<float[][]> gradients) {
    if (gradients.size() != trainers) {
      throw new InvalidGradientException(
          "a push needs one gradient per trainer: expected " + trainers + ", got " + gradients.size());
    }
    int k = pipeline.accumulateSteps();
    boolean last = inWindow + 1 == k;
    float[][] step = new float[slots.size()][];
    for (int i = 0; i < slots.size(); i++) {
      Slot s = slots.get(i);
      if (!s.active()) {
        continue;
      }
      float[] pushed = trainerMean(s, gradients, i);
      if (k == 1) {
        step[i] = pushed;
      } else if (!last) {
        addToWindow(s, pushed);
      } else {
        step[i] = windowMean(s, pushed, k);
      }
    }
    if (!last) {
      inWindow++;
      return null;
    }
    return new PreparedStep(step);
  }

  /** Stage two: per-block sums of squares after clipValue, and the first non-finite element. */
  public List<BlockStatistics> statistics(PreparedStep step) {
    float clipValue = (float) pipeline.clipValueLimit().orElse(Double.POSITIVE_INFINITY);
    List<BlockStatistics> out = new ArrayList<>();
    for (int i = 0; i < slots.size(); i++) {
      float[] g = step.gradients[i];
      if (g == null) {
        continue;
      }
      ShardSpec spec = slots.get(i).spec;
      int bad = parallel.firstNonFinite(g);
      double[] sums = bad >= 0 ? new double[0] : parallel.blockPartials(g, clipValue);
      out.add(new BlockStatistics(spec.tensorIndex(), spec.firstBlock(), sums,
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
    if (d.update() != updates) {
      throw new IllegalStateException("decision for update " + d.update() + " but this group is at " + updates);
    }
    float clipValue = (float) pipeline.clipValueLimit().orElse(Double.POSITIVE_INFINITY);
    boolean decoupled = pipeline.rule().decoupledWeightDecay();
    for (int i = 0; i < slots.size(); i++) {
      float[] g = step.gradients[i];
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
      parallel.apply(kernel, s.param, g, s.state, scalars);
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

  private float[] trainerMean(Slot s, List<float[][]> gradients, int shard) {
    if (trainers == 1) {
      return gradients.get(0)[shard];
    }
    float[] out = scratch(s);
    System.arraycopy(gradients.get(0)[shard], 0, out, 0, out.length);
    for (int r = 1; r < trainers; r++) {
      float[] g = gradients.get(r)[shard];
      for (int j = 0; j < out.length; j++) {
        out[j] += g[j];
      }
    }
    float kf = trainers;
    for (int j = 0; j < out.length; j++) {
      out[j] /= kf;
    }
    return out;
  }

  private void addToWindow(Slot s, float[] pushed) {
    if (s.windowSum == null) {
      s.windowSum = new float[s.spec.length()];
    }
    float[] sum = s.windowSum;
    if (s.sumWindow != window) {
      System.arraycopy(pushed, 0, sum, 0, sum.length);
      s.sumWindow = window;
    } else {
      for (int j = 0; j < sum.length; j++) {
        sum[j] += pushed[j];
      }
    }
  }

  /**
   * (window sum + this push) / k, into the scratch buffer; the window sum is left as it was. A
   * tensor active in none of the window's earlier pushes has no sum: this push / k.
   */
  private float[] windowMean(Slot s, float[] pushed, int k) {
    float[] out = scratch(s);
    float kf = k;
    if (s.sumWindow != window) {
      for (int j = 0; j < out.length; j++) {
        out[j] = pushed[j] / kf;
      }
      return out;
    }
    float[] sum = s.windowSum;
    for (int j = 0; j < out.length; j++) {
      out[j] = (sum[j] + pushed[j]) / kf;
    }
    return out;
  }

  private float[] scratch(Slot s) {
    if (s.scratch == null) {
      s.scratch = new float[s.spec.length()];
    }
    return s.scratch;
  }
}
