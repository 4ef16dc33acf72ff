package dev.shardopt.dsl;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Which rule takes which modifier, for messages like {@code rho applies to rmsprop; adam takes ...}. */
final class RuleModifiers {
  private RuleModifiers() {}

  static final List<String> RULES =
      List.of("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw", "lion");

  /** Rule modifiers that take no argument. */
  static final Set<String> FLAGS = Set.of("amsgrad", "centered", "epsInsideSqrt");

  private static final Map<String, List<String>> BY_RULE = new LinkedHashMap<>();

  static {
    BY_RULE.put("sgd", new Rule.Sgd(Rule.Sgd.DEFAULT_LR).modifiers());
    BY_RULE.put("momentum", Rule.Momentum.DEFAULTS.modifiers());
    BY_RULE.put("nesterov", Rule.Nesterov.DEFAULTS.modifiers());
    BY_RULE.put("adagrad", Rule.Adagrad.DEFAULTS.modifiers());
    BY_RULE.put("rmsprop", Rule.Rmsprop.DEFAULTS.modifiers());
    BY_RULE.put("adam", Rule.Adam.DEFAULTS.modifiers());
    BY_RULE.put("adamw", Rule.AdamW.DEFAULTS.modifiers());
    BY_RULE.put("lion", Rule.Lion.DEFAULTS.modifiers());
  }

  /** Every rule modifier name, in first-seen order. */
  static List<String> all() {
    List<String> out = new ArrayList<>();
    BY_RULE.values().forEach(ms -> ms.stream().filter(m -> !out.contains(m)).forEach(out::add));
    return out;
  }

  static boolean isRuleModifier(String name) {
    return all().contains(name);
  }

  static InvalidPipelineException notApplicable(String name, Rule rule) {
    List<String> owners =
        BY_RULE.entrySet().stream().filter(e -> e.getValue().contains(name)).map(Map.Entry::getKey).toList();
    List<String> takes = rule.modifiers();
    String takesText =
        takes.isEmpty()
            ? rule.name() + " takes no hyperparameters besides lr"
            : rule.name() + " takes " + String.join(", ", takes);
    return new InvalidPipelineException(name + " applies to " + joinAnd(owners) + "; " + takesText);
  }

  private static String joinAnd(List<String> names) {
    if (names.size() <= 1) {
      return String.join("", names);
    }
    return String.join(", ", names.subList(0, names.size() - 1)) + " and " + names.get(names.size() - 1);
  }
}
