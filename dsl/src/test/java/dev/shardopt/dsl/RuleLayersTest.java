package dev.shardopt.dsl;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Message;
import dev.shardopt.v1.OptimizerPipeline;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Every layer of the DSL knows every rule, and every hyperparameter survives text and proto. */
class RuleLayersTest {

  private static Set<String> enumNames() {
    return Arrays.stream(RuleKind.values()).map(RuleKind::dslName).collect(Collectors.toCollection(TreeSet::new));
  }

  /** The rule names each layer knows, by layer. */
  private static Map<String, Set<String>> layers() {
    Map<String, Set<String>> out = new LinkedHashMap<>();
    out.put("RuleKind", enumNames());
    out.put("descriptors", names(RuleDescriptors.ALL.stream().map(RuleDescriptor::name)));
    out.put("RuleKind.descriptor()", names(Arrays.stream(RuleKind.values()).map(k -> k.descriptor().name())));
    out.put("Rule records", names(ruleRecords().stream().map(c -> recordKind(c).dslName())));
    out.put("proto RuleCase", names(Arrays.stream(OptimizerPipeline.RuleCase.values())
        .filter(c -> c != OptimizerPipeline.RuleCase.RULE_NOT_SET)
        .map(c -> c.name().toLowerCase(Locale.ROOT))));
    out.put("proto rule oneof", names(OptimizerPipeline.getDescriptor().getOneofs().stream()
        .filter(o -> o.getName().equals("rule"))
        .flatMap(o -> o.getFields().stream())
        .map(FieldDescriptor::getName)));
    out.put("parser", names(enumNames().stream().filter(n -> Pipeline.parse(n + "()").rule().name().equals(n))));
    out.put("parser's rule list", names(RuleModifiers.RULES.stream()));
    out.put("text printer", names(enumNames().stream()
        .map(n -> Pipeline.parse(n + "()").toString())
        .filter(t -> t.endsWith("()"))
        .map(t -> t.substring(0, t.length() - 2))));
    out.put("Optimizers()", names(factories(0).stream().map(Method::getName)));
    out.put("Optimizers(lr)", names(factories(1).stream().map(Method::getName)));
    return out;
  }

  private static Set<String> names(Stream<String> names) {
    return names.collect(Collectors.toCollection(TreeSet::new));
  }

  private static List<Method> factories(int parameters) {
    return Arrays.stream(Optimizers.class.getDeclaredMethods())
        .filter(m -> Modifier.isPublic(m.getModifiers()) && Modifier.isStatic(m.getModifiers()))
        .filter(m -> m.getParameterCount() == parameters)
        .toList();
  }

  /** The record classes under the sealed Rule, through AdamFamily. */
  private static List<Class<?>> ruleRecords() {
    List<Class<?>> out = new ArrayList<>();
    List<Class<?>> todo = new ArrayList<>(List.of(Rule.class.getPermittedSubclasses()));
    while (!todo.isEmpty()) {
      Class<?> c = todo.remove(0);
      if (c.isRecord()) {
        out.add(c);
      } else {
        todo.addAll(List.of(c.getPermittedSubclasses()));
      }
    }
    return out;
  }

  private static RuleKind recordKind(Class<?> record) {
    return RuleDescriptors.ALL.stream().filter(d -> d.type() == record).findFirst().orElseThrow().kind();
  }

  @Test
  void everyLayerKnowsEveryRule() {
    Map<String, Set<String>> layers = layers();
    Set<String> union = new TreeSet<>();
    layers.values().forEach(union::addAll);
    assertThat(enumNames()).containsExactly("adagrad", "adam", "adamw", "lion", "momentum", "nesterov", "rmsprop", "sgd");
    layers.forEach((layer, names) -> assertThat(names).as(layer).isEqualTo(union));
  }

  @ParameterizedTest
  @EnumSource(RuleKind.class)
  void descriptorRecordAndTypedPipelineAgree(RuleKind kind) throws Exception {
    RuleDescriptor<?, ?> d = kind.descriptor();
    assertThat(d.kind()).isEqualTo(kind);
    assertThat(d.defaults()).isInstanceOf(d.type());
    assertThat(d.defaults().kind()).isEqualTo(kind);
    // The table's order is the record's: lr, then the modifiers.
    List<String> components = Arrays.stream(d.type().getRecordComponents()).map(RecordComponent::getName).toList();
    List<String> table = new ArrayList<>(List.of("lr"));
    table.addAll(d.modifierNames());
    assertThat(components).isEqualTo(table);
    // The factories return the typed pipeline, which offers exactly the rule's modifiers.
    Class<?> typed = d.start().getClass();
    assertThat(Optimizers.class.getMethod(d.name()).getReturnType()).isEqualTo(typed);
    assertThat(Optimizers.class.getMethod(d.name(), double.class).getReturnType()).isEqualTo(typed);
    Set<String> offered = typed == Pipeline.class ? Set.of() : names(Arrays.stream(typed.getDeclaredMethods())
        .filter(m -> Modifier.isPublic(m.getModifiers()))
        .peek(m -> assertThat(m.getReturnType()).as(m.getName()).isEqualTo(typed))
        .map(Method::getName));
    assertThat(offered).isEqualTo(new TreeSet<>(d.modifierNames()));
    for (Hyperparameter<?> h : d.modifiers()) {
      assertThat(typed.getMethod(h.name(), h.flag() ? new Class<?>[0] : new Class<?>[] {double.class}))
          .as(h.name()).isNotNull();
    }
  }

  /** Each hyperparameter gets its own power of two: valid everywhere, exact in text, never a default. */
  private static Map<String, Double> nonDefaults(RuleDescriptor<?, ?> d) {
    Map<String, Double> out = new LinkedHashMap<>();
    out.put("lr", 0.5);
    double next = 0.25;
    for (Hyperparameter<?> h : d.modifiers()) {
      out.put(h.name(), h.flag() ? 1.0 : next);
      next /= 2;
    }
    return out;
  }

  private static String text(RuleDescriptor<?, ?> d, Map<String, Double> values) {
    StringBuilder s = new StringBuilder(d.name()).append("(0.5)");
    for (Hyperparameter<?> h : d.modifiers()) {
      s.append('.').append(h.call(values.get(h.name())));
    }
    return s.toString();
  }

  @ParameterizedTest
  @EnumSource(RuleKind.class)
  void everyHyperparameterSurvivesTextProtoAndJson(RuleKind kind) throws Exception {
    RuleDescriptor<?, ?> d = kind.descriptor();
    Map<String, Double> values = nonDefaults(d);
    String text = text(d, values);
    Pipeline p = Pipeline.parse(text);
    for (RecordComponent c : d.type().getRecordComponents()) {
      Object actual = c.getAccessor().invoke(p.rule());
      Object expected = c.getType() == boolean.class ? (Object) true : values.get(c.getName());
      assertThat(actual).as(c.getName()).isEqualTo(expected);
    }
    assertThat(p.toString()).isEqualTo(text);

    Pipeline java = d.start(0.5);
    for (Hyperparameter<?> h : d.modifiers()) {
      java = java.ruleModifier(h.name(), h.flag() ? null : values.get(h.name()));
    }
    assertThat(java).isEqualTo(p);

    OptimizerPipeline proto = p.toProto();
    assertThat(proto.getRuleCase().name()).isEqualTo(kind.name());
    Message ruleMessage = (Message) proto.getField(OptimizerPipeline.getDescriptor().findFieldByName(d.name()));
    for (Map.Entry<String, Double> e : values.entrySet()) {
      FieldDescriptor f = ruleMessage.getDescriptorForType().findFieldByName(ProtoRuleFields.snakeCase(e.getKey()));
      Object expected = f.getJavaType() == FieldDescriptor.JavaType.BOOLEAN ? (Object) true : e.getValue();
      assertThat(ruleMessage.getField(f)).as(f.getName()).isEqualTo(expected);
    }
    assertThat(ruleMessage.getAllFields()).hasSize(values.size());
    for (Pipeline back : List.of(Pipeline.fromProto(proto), Pipeline.fromJson(p.toJson()), Pipeline.parse(p.toString()))) {
      assertThat(back).isEqualTo(p);
      assertThat(back.rule()).isEqualTo(p.rule());
      assertThat(back.toString()).isEqualTo(text);
      assertThat(back.getClass()).isEqualTo(p.getClass());
    }
  }

  @ParameterizedTest
  @EnumSource(RuleKind.class)
  void absentFieldsTakeTheTableDefaults(RuleKind kind) throws Exception {
    RuleDescriptor<?, ?> d = kind.descriptor();
    Pipeline p = Pipeline.fromJson("{\"" + d.name() + "\": {}}");
    assertThat(p.rule()).isEqualTo(d.defaults());
    assertThat(p.toString()).isEqualTo(d.name() + "()");
    assertThat(p.weightDecayRate()).isEqualTo(d.defaultWeightDecay());
    assertThat(p.rule().lr()).isEqualTo(d.defaultLr());
    for (Hyperparameter<?> h : d.modifiers()) {
      Object actual = d.type().getMethod(h.name()).invoke(p.rule());
      assertThat(actual).as(h.name()).isEqualTo(h.flag() ? (Object) false : h.defaultValue());
    }
  }
}
