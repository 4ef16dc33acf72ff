package dev.shardopt.worker.engine;

import dev.shardopt.dsl.ParameterSettings;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.worker.kernel.ParallelApply;
import dev.shardopt.worker.kernel.ReductionBlocks;
import dev.shardopt.worker.kernel.StepScalars;
import dev.shardopt.worker.kernel.UpdateKernel;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.stream.Collectors;

/**
 * One model's parameters and optimizer state in one process, updated by a {@link Pipeline}.
 *
 * <p>A push is one gradient per trainer. Its stages, in order:
 *
 * <ol>
 *   <li>trainer mean: sum in trainer order, then divide by K (float32);
 *   <li>accumulate(k): pushes form windows of k; the window's last push updates with the mean of
 *       the window's gradients (float32 sum in push order, then divide by k);
 *   <li>non-finite test on that aggregated gradient: skipNonFinite skips the whole step (t and the
 *       state unchanged, the window consumed); otherwise the push is refused with an error;
 *   <li>clipValue, then clipNorm over every non-frozen tensor, then weight decay and the rule, in one
 *       fused kernel pass per tensor.
 * </ol>
 *
 * <p>A refused push changes nothing. The clip norm is combined from fixed reduction blocks, so the
 * result does not depend on the thread count. Not thread-safe: callers serialize pushes.
 */
public final class LocalOptimizer {

  /** One tensor: its parameters, optimizer state and gradient buffers. */
  private static final class Slot {
    final TensorSpec spec;
    final ParameterSettings settings;
    final float[] param;
    final float[][] state;
    float[] windowSum; // sum of the current window's pushes (accumulate > 1)
    float[] scratch; // the trainer mean, then the step's gradient

    Slot(TensorSpec spec, ParameterSettings settings, float[] param, float[][] state) {
      this.spec = spec;
      this.settings = settings;
      this.param = param;
      this.state = state;
    }
  }

  private final Pipeline pipeline;
  private final UpdateKernel kernel;
  private final ParallelApply parallel;
  private final int trainers;
  private final Map<String, Slot> slots = new LinkedHashMap<>();
  private long updates;
  private long skipped;
  private int inWindow;

  /**
   * @param initial the tensors in model order, each with its initial values (copied)
   * @param trainers K, the number of gradients per push
   * @throws IllegalArgumentException on a length that does not match the shape, or a parameter
   *     that two lrScale globs match
   */
  public LocalOptimizer(
      Pipeline pipeline, Map<TensorSpec, float[]> initial, int trainers, ParallelApply parallel) {
    this.pipeline = Objects.requireNonNull(pipeline, "pipeline");
    this.parallel = Objects.requireNonNull(parallel, "parallel");
    if (trainers < 1) {
      throw new IllegalArgumentException("trainers must be >= 1, got " + trainers);
    }
    if (initial.isEmpty()) {
      throw new IllegalArgumentException("a model needs at least one tensor");
    }
    this.trainers = trainers;
    this.kernel = UpdateKernels.forRule(pipeline.rule());
    for (Map.Entry<TensorSpec, float[]> e : initial.entrySet()) {
      TensorSpec spec = e.getKey();
      if (e.getValue().length != spec.size()) {
        throw new IllegalArgumentException(
            "tensor '" + spec.name() + "' has " + e.getValue().length + " values, expected "
                + spec.size() + " for shape " + java.util.Arrays.toString(spec.shape()));
      }
      if (slots.containsKey(spec.name())) {
        throw new IllegalArgumentException("tensor '" + spec.name() + "' is given twice");
      }
      ParameterSettings settings = pipeline.settingsFor(spec.name());
      float[][] state = settings.frozen() ? new float[0][] : kernel.newState(spec.size());
      slots.put(spec.name(), new Slot(spec, settings, e.getValue().clone(), state));
    }
  }

  public Pipeline pipeline() {
    return pipeline;
  }

  /** t: the number of updates applied. */
  public long updatesApplied() {
    return updates;
  }

  /** Steps skipped by skipNonFinite. */
  public long stepsSkipped() {
    return skipped;
  }

  public List<TensorSpec> tensors() {
    return slots.values().stream().map(s -> s.spec).toList();
  }

  /** A copy of the current parameters of {@code name}. */
  public float[] parameter(String name) {
    return slot(name).param.clone();
  }

  /** Copies of all current parameters, in model order. */
  public Map<String, float[]> parameters() {
    Map<String, float[]> out = new LinkedHashMap<>();
    slots.forEach((n, s) -> out.put(n, s.param.clone()));
    return Collections.unmodifiableMap(out);
  }

  /** Optimizer state slot names and copies of their values for {@code name}. */
  public Map<String, float[]> state(String name) {
    Slot s = slot(name);
    Map<String, float[]> out = new LinkedHashMap<>();
    for (int j = 0; j < s.state.length; j++) {
      out.put(kernel.stateSlots().get(j), s.state[j].clone());
    }
    return out;
  }

  /**
   * Applies one push: {@code gradients.get(r)} is trainer r's gradient by tensor name. Frozen
   * tensors may be left out.
   *
   * @throws InvalidGradientException if a gradient is missing, unknown, of the wrong length, or
   *     not finite without skipNonFinite; nothing has changed then
   */
  public StepResult push(List<Map<String, float[]>> gradients) {
    validate(gradients);
    int k = pipeline.accumulateSteps();
    boolean lastOfWindow = inWindow + 1 == k;

    // The push's trainer mean; with one trainer and no accumulation it is the input itself.
    Map<Slot, float[]> step = new LinkedHashMap<>();
    for (Slot s : active()) {
      float[] pushed = trainerMean(s, gradients);
      if (k == 1) {
        step.put(s, pushed);
      } else if (!lastOfWindow) {
        addToWindow(s, pushed);
      } else {
        step.put(s, windowMean(s, pushed, k));
      }
    }
    if (!lastOfWindow) {
      inWindow++;
      return new StepResult(StepResult.Outcome.ACCUMULATED, updates, Double.NaN, Double.NaN, 1f);
    }

    String nonFinite = firstNonFinite(step);
    if (nonFinite != null) {
      if (!pipeline.skipsNonFinite()) {
        // Only reachable when finite pushes overflow in the window sum; the window stays as it was.
        throw new InvalidGradientException(
            nonFinite + " after accumulating " + k + " pushes; nothing was applied"
                + " (add .skipNonFinite() to skip such steps)");
      }
      inWindow = 0;
      skipped++;
      return new StepResult(StepResult.Outcome.SKIPPED_NON_FINITE, updates, Double.NaN, Double.NaN, 1f);
    }

    float clipValue = (float) pipeline.clipValueLimit().orElse(Double.POSITIVE_INFINITY);
    double norm = Math.sqrt(sumOfSquares(step, clipValue));
    float scale = 1f;
    if (pipeline.clipNormLimit().isPresent()) {
      scale = (float) Math.min(1.0, pipeline.clipNormLimit().getAsDouble() / (norm + 1e-6));
    }
    double lr = pipeline.learningRate(updates);
    boolean decoupled = pipeline.rule().decoupledWeightDecay();
    for (Map.Entry<Slot, float[]> e : step.entrySet()) {
      Slot s = e.getKey();
      ParameterSettings ps = s.settings;
      StepScalars scalars =
          new StepScalars(
              updates + 1,
              lr * ps.lrScale(),
              clipValue,
              scale,
              decoupled ? 0f : (float) ps.weightDecay(),
              decoupled ? ps.weightDecay() : 0.0);
      parallel.apply(kernel, s.param, e.getValue(), s.state, scalars);
    }
    updates++;
    inWindow = 0;
    return new StepResult(StepResult.Outcome.APPLIED, updates, lr, norm, scale);
  }

  // ---------------------------------------------------------------- stages

  private List<Slot> active() {
    return slots.values().stream().filter(s -> !s.settings.frozen() && s.spec.size() > 0).toList();
  }

  private float[] trainerMean(Slot s, List<Map<String, float[]>> gradients) {
    if (trainers == 1) {
      return gradients.get(0).get(s.spec.name());
    }
    float[] out = scratch(s);
    float[] first = gradients.get(0).get(s.spec.name());
    System.arraycopy(first, 0, out, 0, out.length);
    for (int r = 1; r < trainers; r++) {
      float[] g = gradients.get(r).get(s.spec.name());
      for (int i = 0; i < out.length; i++) {
        out[i] += g[i];
      }
    }
    float kf = trainers;
    for (int i = 0; i < out.length; i++) {
      out[i] /= kf;
    }
    return out;
  }

  private void addToWindow(Slot s, float[] pushed) {
    if (s.windowSum == null) {
      s.windowSum = new float[s.spec.size()];
    }
    float[] sum = s.windowSum;
    if (inWindow == 0) {
      System.arraycopy(pushed, 0, sum, 0, sum.length);
    } else {
      for (int i = 0; i < sum.length; i++) {
        sum[i] += pushed[i];
      }
    }
  }

  /** (window sum + this push) / k, into the scratch buffer; the window sum is left as it was. */
  private float[] windowMean(Slot s, float[] pushed, int k) {
    float[] out = scratch(s);
    float[] sum = s.windowSum;
    float kf = k;
    for (int i = 0; i < out.length; i++) {
      out[i] = (sum[i] + pushed[i]) / kf;
    }
    return out;
  }

  private float[] scratch(Slot s) {
    if (s.scratch == null) {
      s.scratch = new float[s.spec.size()];
    }
    return s.scratch;
  }

  private String firstNonFinite(Map<Slot, float[]> step) {
    for (Map.Entry<Slot, float[]> e : step.entrySet()) {
      int i = parallel.firstNonFinite(e.getValue());
      if (i >= 0) {
        return "the gradient of '" + e.getKey().spec.name() + "' is " + e.getValue()[i] + " at index " + i;
      }
    }
    return null;
  }

  /** Squared L2 norm over every non-frozen tensor, combined per tensor in model order. */
  private double sumOfSquares(Map<Slot, float[]> step, float clipValue) {
    if (pipeline.clipNormLimit().isEmpty()) {
      return Double.NaN;
    }
    double total = 0;
    for (float[] g : step.values()) {
      total += ReductionBlocks.combine(parallel.blockPartials(g, clipValue));
    }
    return total;
  }

  private void validate(List<Map<String, float[]>> gradients) {
    if (gradients.size() != trainers) {
      throw new InvalidGradientException(
          "a push needs one gradient per trainer: expected " + trainers + ", got " + gradients.size());
    }
    for (int r = 0; r < trainers; r++) {
      Map<String, float[]> g = gradients.get(r);
      for (String name : g.keySet()) {
        if (!slots.containsKey(name)) {
          throw new InvalidGradientException(
              who(r) + "unknown tensor '" + name + "'; the model has " + String.join(", ", slots.keySet()));
        }
      }
      for (Slot s : slots.values()) {
        float[] values = g.get(s.spec.name());
        if (values == null) {
          if (s.settings.frozen()) {
            continue;
          }
          throw new InvalidGradientException(who(r) + "no gradient for '" + s.spec.name() + "'");
        }
        if (values.length != s.spec.size()) {
          throw new InvalidGradientException(
              who(r) + "the gradient of '" + s.spec.name() + "' has " + values.length
                  + " values, expected " + s.spec.size() + " for shape "
                  + java.util.Arrays.toString(s.spec.shape()));
        }
        if (!pipeline.skipsNonFinite() && !s.settings.frozen()) {
          int i = parallel.firstNonFinite(values);
          if (i >= 0) {
            throw new InvalidGradientException(
                who(r) + "the gradient of '" + s.spec.name() + "' is " + values[i] + " at index " + i
                    + "; nothing was applied (add .skipNonFinite() to skip such steps)");
          }
        }
      }
    }
  }

  private String who(int trainer) {
    return trainers == 1 ? "" : "trainer " + trainer + ": ";
  }

  private Slot slot(String name) {
    Slot s = slots.get(name);
    if (s == null) {
      throw new IllegalArgumentException(
          "unknown tensor '" + name + "'; the model has "
              + slots.keySet().stream().collect(Collectors.joining(", ")));
    }
    return s;
  }

  @Override
  public String toString() {
    return "LocalOptimizer[" + pipeline + ", " + new ArrayList<>(slots.keySet()) + ", t=" + updates + "]";
  }
}
