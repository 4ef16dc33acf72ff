package dev.shardopt.dsl;

import dev.shardopt.v1.OptimizerPipeline;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * The one definition of a rule: its name (from its {@link RuleKind}), its hyperparameters with
 * defaults and validators, its weight decay, its proto fields, its text form and its typed
 * pipeline. Everything in the DSL that differs between rules reads it from here.
 *
 * @param <R> the rule's record
 * @param <P> the pipeline type that offers the rule's modifiers to the IDE
 */
final class RuleDescriptor<R extends Rule, P extends Pipeline> {

  /** Where weight decay applies for a rule, and its value when the pipeline sets none. */
  record WeightDecay(boolean decoupled, double defaultRate) {
    static final WeightDecay COUPLED = new WeightDecay(false, 0.0);
    static final WeightDecay DECOUPLED = new WeightDecay(true, 0.0);
  }

  private final RuleKind kind;
  private final Class<R> type;
  private final Function<Pipeline.Builder, P> typed;
  private final WeightDecay weightDecay;
  private final Function<RuleValues, R> factory;
  /** lr first, then the modifiers in canonical order, which is the record's component order. */
  private final List<Hyperparameter<R>> hyperparameters;
  private final ProtoRuleFields proto;
  private final R defaults;

  @SafeVarargs
  RuleDescriptor(
      RuleKind kind,
      Class<R> type,
      double defaultLr,
      Function<Pipeline.Builder, P> typed,
      WeightDecay weightDecay,
      Function<RuleValues, R> factory,
      Hyperparameter<R>... modifiers) {
    this.kind = kind;
    this.type = type;
    this.typed = typed;
    this.weightDecay = weightDecay;
    this.factory = factory;
    List<Hyperparameter<R>> all = new ArrayList<>();
    all.add(Hyperparameter.number("lr", defaultLr, Validator.NON_NEGATIVE, Rule::lr));
    all.addAll(List.of(modifiers));
    this.hyperparameters = List.copyOf(all);
    this.proto = new ProtoRuleFields(name(), hyperparameters);
    Map<String, Double> defaultValues = new LinkedHashMap<>();
    hyperparameters.forEach(h -> defaultValues.put(h.name(), h.defaultValue()));
    this.defaults = create(new RuleValues(defaultValues));
  }

  RuleKind kind() {
    return kind;
  }

  String name() {
    return kind.dslName();
  }

  Class<R> type() {
    return type;
  }

  R defaults() {
    return defaults;
  }

  double defaultLr() {
    return hyperparameters.get(0).defaultValue();
  }

  /** The hyperparameters besides lr, in canonical order. */
  List<Hyperparameter<R>> modifiers() {
    return hyperparameters.subList(1, hyperparameters.size());
  }

  List<String> modifierNames() {
    return modifiers().stream().map(Hyperparameter::name).toList();
  }

  Optional<Hyperparameter<R>> modifier(String name) {
    return modifiers().stream().filter(h -> h.name().equals(name)).findFirst();
  }

  boolean decoupledWeightDecay() {
    return weightDecay.decoupled();
  }

  double defaultWeightDecay() {
    return weightDecay.defaultRate();
  }

  // ---------------------------------------------------------------- values

  /** Validates every value in order, lr first, then builds the record. */
  R create(RuleValues values) {
    RuleValues checked = values;
    for (Hyperparameter<R> h : hyperparameters) {
      checked = checked.with(h.name(), h.validator().check(h.name(), values.number(h.name())));
    }
    return factory.apply(checked);
  }

  RuleValues values(Rule rule) {
    R r = type.cast(rule);
    Map<String, Double> out = new LinkedHashMap<>();
    hyperparameters.forEach(h -> out.put(h.name(), h.getter().applyAsDouble(r)));
    return new RuleValues(out);
  }

  /** {@code rule} with the hyperparameter {@code name} set to {@code value}, validated. */
  R with(Rule rule, String name, double value) {
    return create(values(rule).with(name, value));
  }

  // ---------------------------------------------------------------- pipelines, text and proto

  P start() {
    return start(defaultLr());
  }

  P start(double lr) {
    return typed(new Pipeline.Builder(with(defaults, "lr", lr)));
  }

  P typed(Pipeline.Builder b) {
    return typed.apply(b);
  }

  /** {@code name(lr)} with lr only when not the default, then each non-default modifier. */
  String text(Rule rule) {
    RuleValues v = values(rule);
    StringBuilder s = new StringBuilder(name()).append('(');
    if (!hyperparameters.get(0).isDefault(v.lr())) {
      s.append(Numbers.format(v.lr()));
    }
    s.append(')');
    for (Hyperparameter<R> h : modifiers()) {
      double value = v.number(h.name());
      if (!h.isDefault(value)) {
        s.append('.').append(h.call(value));
      }
    }
    return s.toString();
  }

  boolean isSetIn(OptimizerPipeline m) {
    return proto.isSetIn(m);
  }

  void writeProto(Rule rule, OptimizerPipeline.Builder b) {
    proto.write(values(rule), b);
  }

  R readProto(OptimizerPipeline m) {
    return create(proto.read(m, values(defaults)));
  }
}
