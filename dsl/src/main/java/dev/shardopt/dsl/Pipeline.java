package dev.shardopt.dsl;

import dev.shardopt.v1.OptimizerPipeline;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.OptionalDouble;

/**
 * An immutable, validated optimizer pipeline: one base {@link Rule} plus modifiers. Every modifier
 * returns a new pipeline; invalid values fail at the call with a message that names the field,
 * the value and what is allowed.
 *
 * <p>Build one with {@link Optimizers} ({@code adam(1e-3).beta2(0.98).warmup(500).cosine(1e5)}) or
 * from its text form with {@link #parse}. {@link #toString()} prints the canonical text: non-default
 * values only, in canonical order, and valid Java against this DSL.
 *
 * <p>Whatever order the modifiers are written in, the stages run in this order: accumulate,
 * skipNonFinite, clipValue, clipNorm, coupled weight decay, the rule (with decoupled weight decay
 * first for adamw and lion); freeze, noDecay and lrScale select parameters by name.
 *
 * <p>A setting may be given once: a second warmup, decay, clipValue, clipNorm, weightDecay,
 * accumulate, skipNonFinite or rule hyperparameter is refused. A setting counts as given when its
 * value differs from the default, so that the value alone decides, and a pipeline read back from
 * its text, proto or JSON form behaves exactly as the original.
 */
public sealed class Pipeline
    permits MomentumPipeline, NesterovPipeline, AdagradPipeline, RmspropPipeline, AdamPipeline,
        LionPipeline {

  /** The most noDecay, freeze and lrScale globs one pipeline may have, together. */
  public static final int MAX_PARAMETER_RULES = 1024;

  final Rule rule;
  final long warmupSteps;
  final Decay decay;
  final double clipValue; // NaN: off
  final double clipNorm; // NaN: off
  final double weightDecay;
  final int accumulate;
  final boolean skipNonFinite;
  final List<Glob> noDecay;
  final List<Glob> freeze;
  final List<LrScale> lrScales;

  Pipeline(Builder b) {
    this.rule = b.rule;
    this.warmupSteps = b.warmupSteps;
    this.decay = b.decay;
    this.clipValue = b.clipValue;
    this.clipNorm = b.clipNorm;
    this.weightDecay = b.weightDecay;
    this.accumulate = b.accumulate;
    this.skipNonFinite = b.skipNonFinite;
    this.noDecay = List.copyOf(b.noDecay);
    this.freeze = List.copyOf(b.freeze);
    this.lrScales = List.copyOf(b.lrScales);
    // Validates the warmup/decay combination.
    schedule();
  }

  // ---------------------------------------------------------------- text, proto and JSON forms

  /** Parses the text form, the same expression as the Java DSL, e.g. {@code adam(1e-3).warmup(500)}. */
  public static Pipeline parse(String text) {
    return new PipelineParser(text).parse();
  }

  public static Pipeline fromProto(OptimizerPipeline proto) {
    return PipelineProtos.fromProto(proto);
  }

  public OptimizerPipeline toProto() {
    return PipelineProtos.toProto(this);
  }

  /** The proto's JSON form, from protobuf's {@code JsonFormat}. */
  public String toJson() {
    return PipelineProtos.toJson(this);
  }

  public static Pipeline fromJson(String json) {
    return PipelineProtos.fromJson(json);
  }

  /** The canonical text form. */
  @Override
  public String toString() {
    return PipelineText.format(this);
  }

  // ---------------------------------------------------------------- what the pipeline is

  public Rule rule() {
    return rule;
  }

  public long warmupSteps() {
    return warmupSteps;
  }

  public Decay decay() {
    return decay;
  }

  public LearningRateSchedule schedule() {
    return new LearningRateSchedule(rule.lr(), warmupSteps, decay);
  }

  /** The learning rate of the update after {@code t} applied updates, in closed form. */
  public double learningRate(long t) {
    return schedule().at(t);
  }

  public OptionalDouble clipValueLimit() {
    return Double.isNaN(clipValue) ? OptionalDouble.empty() : OptionalDouble.of(clipValue);
  }

  public OptionalDouble clipNormLimit() {
    return Double.isNaN(clipNorm) ? OptionalDouble.empty() : OptionalDouble.of(clipNorm);
  }

  /** The weight decay, coupled or decoupled as {@link Rule#decoupledWeightDecay()} says. */
  public double weightDecayRate() {
    return weightDecay;
  }

  public int accumulateSteps() {
    return accumulate;
  }

  public boolean skipsNonFinite() {
    return skipNonFinite;
  }

  public List<Glob> noDecayGlobs() {
    return noDecay;
  }

  public List<Glob> frozenGlobs() {
    return freeze;
  }

  public List<LrScale> lrScales() {
    return lrScales;
  }

  /**
   * What the parameter rules make of the parameter {@code name}.
   *
   * @throws InvalidPipelineException if two lrScale globs match it
   */
  public ParameterSettings settingsFor(String name) {
    boolean frozen = freeze.stream().anyMatch(g -> g.matches(name));
    boolean decays = noDecay.stream().noneMatch(g -> g.matches(name));
    LrScale scale = null;
    for (LrScale s : lrScales) {
      if (s.glob().matches(name)) {
        if (scale != null) {
          throw new InvalidPipelineException(
              "parameter '" + name + "' matches two lrScale globs, \"" + scale.glob() + "\" and \""
                  + s.glob() + "\"; a parameter takes at most one lrScale");
        }
        scale = s;
      }
    }
    return new ParameterSettings(frozen, decays ? weightDecay : 0.0, scale == null ? 1.0 : scale.factor());
  }

  // ---------------------------------------------------------------- pipeline modifiers

  /** Weight decay {@code wd >= 0}: coupled ({@code g += wd theta}), or decoupled for adamw and lion. */
  public Pipeline weightDecay(double rate) {
    double wd = Check.nonNegative("weightDecay", rate);
    once(Double.compare(weightDecay, rule.defaultWeightDecay()) != 0, "weightDecay",
        "weightDecay(" + Numbers.format(weightDecay) + ")");
    return set(b -> b.weightDecay = wd);
  }

  /** {@code g *= min(1, c/(total + 1e-6))}, total the L2 norm over every non-frozen parameter. */
  public Pipeline clipNorm(double c) {
    Check.positive("clipNorm", c);
    once(!Double.isNaN(clipNorm), "clipNorm", "clipNorm(" + Numbers.format(clipNorm) + ")");
    return set(b -> b.clipNorm = c);
  }

  /** {@code g = clamp(g, -c, c)}, before clipNorm. */
  public Pipeline clipValue(double c) {
    Check.positive("clipValue", c);
    once(!Double.isNaN(clipValue), "clipValue", "clipValue(" + Numbers.format(clipValue) + ")");
    return set(b -> b.clipValue = c);
  }

  /** Linear warmup: {@code f = t/W} for {@code t < W}; the first update uses lr 0. */
  public Pipeline warmup(double steps) {
    long w = Check.steps("warmup", steps, 1);
    once(warmupSteps > 0, "warmup", "warmup(" + warmupSteps + ")");
    return set(b -> b.warmupSteps = w);
  }

  /** Cosine decay to 0 over {@code totalSteps} (warmup included). */
  public Pipeline cosine(double totalSteps) {
    return cosine(totalSteps, 0.0);
  }

  /** {@code p = min(tau/(T-W), 1)}; {@code lr_t = minLr + (lr-minLr)(1+cos(pi p))/2}. */
  public Pipeline cosine(double totalSteps, double minLr) {
    return withDecay(new Decay.Cosine(Check.steps("totalSteps", totalSteps, 1), minLr));
  }

  /** {@code f = 0.1^floor(tau/every)}. */
  public Pipeline stepDecay(double every) {
    return stepDecay(every, Decay.StepDecay.DEFAULT_GAMMA);
  }

  /** {@code f = gamma^floor(tau/every)}. */
  public Pipeline stepDecay(double every, double gamma) {
    return withDecay(new Decay.StepDecay(Check.steps("every", every, 1), gamma));
  }

  /** {@code f = gamma^tau}. */
  public Pipeline exponentialDecay(double gamma) {
    return withDecay(new Decay.ExponentialDecay(gamma));
  }

  /** Cosine annealing with warm restarts every {@code period} updates. */
  public Pipeline cosineRestarts(double period) {
    return cosineRestarts(period, 1, 0.0);
  }

  /** Cosine annealing with warm restarts; each cycle is {@code mult} times longer than the last. */
  public Pipeline cosineRestarts(double period, double mult) {
    return cosineRestarts(period, mult, 0.0);
  }

  /** torch's {@code CosineAnnealingWarmRestarts(period, mult, minLr)}, advanced once per update. */
  public Pipeline cosineRestarts(double period, double mult, double minLr) {
    return withDecay(
        new Decay.CosineRestarts(
            Check.steps("period", period, 1), Check.steps("mult", mult, 1), minLr));
  }

  /** Apply one update every {@code k} pushes, with the mean of the k gradients. */
  public Pipeline accumulate(int k) {
    Check.steps("accumulate", k, 1);
    once(accumulate != 1, "accumulate", "accumulate(" + accumulate + ")");
    return set(b -> b.accumulate = k);
  }

  /** Skip (and count) a step whose aggregated gradient has a NaN or Inf, instead of failing. */
  public Pipeline skipNonFinite() {
    once(skipNonFinite, "skipNonFinite", "skipNonFinite()");
    return set(b -> b.skipNonFinite = true);
  }

  /** Parameters whose names match get no weight decay of either kind. */
  public Pipeline noDecay(String... globs) {
    checkRuleCount("noDecay", globs);
    List<Glob> added = globs("noDecay", noDecay, globs);
    return set(b -> b.noDecay.addAll(added));
  }

  /** Parameters whose names match never change and count nowhere, the clip norm included. */
  public Pipeline freeze(String... globs) {
    checkRuleCount("freeze", globs);
    List<Glob> added = globs("freeze", freeze, globs);
    return set(b -> b.freeze.addAll(added));
  }

  /** Parameters whose names match use {@code lr_t * factor} everywhere the rule uses the lr. */
  public Pipeline lrScale(String glob, double factor) {
    checkRuleCount("lrScale", glob);
    Glob g = globs("lrScale", lrScales.stream().map(LrScale::glob).toList(), glob).get(0);
    LrScale scale = new LrScale(g, factor);
    return set(b -> b.lrScales.add(scale));
  }

  // ---------------------------------------------------------------- value semantics

  @Override
  public final boolean equals(Object o) {
    if (this == o) {
      return true;
    }
    if (!(o instanceof Pipeline p)) {
      return false;
    }
    return rule.equals(p.rule)
        && warmupSteps == p.warmupSteps
        && decay.equals(p.decay)
        && Double.compare(clipValue, p.clipValue) == 0
        && Double.compare(clipNorm, p.clipNorm) == 0
        && Double.compare(weightDecay, p.weightDecay) == 0
        && accumulate == p.accumulate
        && skipNonFinite == p.skipNonFinite
        && noDecay.equals(p.noDecay)
        && freeze.equals(p.freeze)
        && lrScales.equals(p.lrScales);
  }

  @Override
  public final int hashCode() {
    return Objects.hash(
        rule, warmupSteps, decay, clipValue, clipNorm, weightDecay, accumulate, skipNonFinite,
        noDecay, freeze, lrScales);
  }

  // ---------------------------------------------------------------- internals

  RuleDescriptor<?, ?> descriptor() {
    return rule.kind().descriptor();
  }

  /**
   * Applies the rule modifier {@code name}; {@code value} is null for flags. The parser's entry
   * point; the typed subclasses offer the same modifiers as methods.
   */
  Pipeline ruleModifier(String name, Double value) {
    if (descriptor().modifier(name).isEmpty()) {
      throw RuleModifiers.notApplicable(name, rule);
    }
    return descriptor().typed(value == null ? flagChange(name) : ruleChange(name, value));
  }

  Builder toBuilder() {
    return new Builder(this);
  }

  interface Change {
    void apply(Builder b);
  }

  /** The next value, as the typed pipeline of its rule whichever way it was built. */
  Pipeline set(Change change) {
    Builder b = toBuilder();
    change.apply(b);
    return descriptor().typed(b);
  }

  /** Refuses a second {@code key} when one is given already. */
  private static void once(boolean given, String key, String previous) {
    if (given) {
      throw new InvalidPipelineException("a second " + key + " after " + previous + " is not allowed");
    }
  }

  /** A builder with the rule's hyperparameter {@code key} set to {@code value}, refusing a second one. */
  Builder ruleChange(String key, double value) {
    // Validating first keeps a bad value's message ahead of the duplicate's.
    Rule next = descriptor().with(rule, key, value);
    double previous = descriptor().values(rule).number(key);
    Hyperparameter<?> h = descriptor().modifier(key).orElseThrow();
    if (!h.isDefault(previous)) {
      throw new InvalidPipelineException(
          h.flag()
              ? "a second " + h.call(previous) + " is not allowed"
              : "a second " + key + " after " + h.call(previous) + " is not allowed");
    }
    Builder b = toBuilder();
    b.rule = next;
    return b;
  }

  /** A builder with the flag {@code key} on, refusing a second one. */
  Builder flagChange(String key) {
    return ruleChange(key, 1);
  }

  private Pipeline withDecay(Decay d) {
    if (!decay.equals(Decay.None.INSTANCE)) {
      throw new InvalidPipelineException(
          "a second decay schedule (" + d.name() + ") after " + decay.name() + " is not allowed");
    }
    return set(b -> b.decay = d);
  }

  /**
   * Refuses more than {@link #MAX_PARAMETER_RULES} globs in all: each one is checked against every
   * other and matched against every parameter name, and a client could otherwise send hundreds of
   * thousands in one message.
   */
  private void checkRuleCount(String method, String... adding) {
    int total = noDecay.size() + freeze.size() + lrScales.size() + (adding == null ? 0 : adding.length);
    if (total > MAX_PARAMETER_RULES) {
      throw new InvalidPipelineException(method + " would make " + total
          + " noDecay, freeze and lrScale globs; at most " + MAX_PARAMETER_RULES + " are allowed");
    }
  }

  private static List<Glob> globs(String method, List<Glob> existing, String... patterns) {
    if (patterns == null || patterns.length == 0) {
      throw new InvalidPipelineException(method + " needs at least one glob, e.g. " + method + "(\"*.bias\")");
    }
    List<Glob> out = new ArrayList<>();
    for (String p : patterns) {
      Glob g = new Glob(p);
      if (existing.contains(g) || out.contains(g)) {
        throw new InvalidPipelineException(
            method + " glob \"" + p + "\" is given twice; give each glob once");
      }
      out.add(g);
    }
    return out;
  }

  /** Mutable scratch state for building the next immutable value. */
  static final class Builder {
    Rule rule;
    long warmupSteps;
    Decay decay = Decay.None.INSTANCE;
    double clipValue = Double.NaN;
    double clipNorm = Double.NaN;
    double weightDecay;
    int accumulate = 1;
    boolean skipNonFinite;
    final List<Glob> noDecay = new ArrayList<>();
    final List<Glob> freeze = new ArrayList<>();
    final List<LrScale> lrScales = new ArrayList<>();

    Builder(Rule rule) {
      this.rule = Objects.requireNonNull(rule, "rule");
      this.weightDecay = rule.defaultWeightDecay();
    }

    Builder(Pipeline p) {
      rule = p.rule;
      warmupSteps = p.warmupSteps;
      decay = p.decay;
      clipValue = p.clipValue;
      clipNorm = p.clipNorm;
      weightDecay = p.weightDecay;
      accumulate = p.accumulate;
      skipNonFinite = p.skipNonFinite;
      noDecay.addAll(p.noDecay);
      freeze.addAll(p.freeze);
      lrScales.addAll(p.lrScales);
    }
  }
}
