package dev.shardopt.dsl;

import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/** Which rule takes which modifier, for messages like {@code rho applies to rmsprop; adam takes ...}. */
final class RuleModifiers {
  private RuleModifiers() {}

  static final List<String> RULES = RuleDescriptors.ALL.stream().map(RuleDescriptor::name).toList();

  /** Rule modifiers that take no argument. */
  static final Set<String> FLAGS =
      RuleDescriptors.ALL.stream()
          .flatMap(d -> d.modifiers().stream())
          .filter(Hyperparameter::flag)
          .map(Hyperparameter::name)
          .collect(Collectors.toUnmodifiableSet());

  /** Every rule modifier name, in first-seen order. */
  static List<String> all() {
    return RuleDescriptors.ALL.stream().flatMap(d -> d.modifierNames().stream()).distinct().toList();
  }

  static boolean isRuleModifier(String name) {
    return all().contains(name);
  }

  static InvalidPipelineException notApplicable(String name, Rule rule) {
    List<String> owners =
        RuleDescriptors.ALL.stream()
            .filter(d -> d.modifierNames().contains(name))
            .map(RuleDescriptor::name)
            .toList();
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
