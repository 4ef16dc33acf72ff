package dev.shardopt.dsl;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A rule's hyperparameter values by name, lr included, in the rule's order; flags are 1 or 0.
 * What a descriptor builds its rule record from.
 */
record RuleValues(Map<String, Double> byName) {
  RuleValues {
    byName = Collections.unmodifiableMap(new LinkedHashMap<>(byName));
  }

  double lr() {
    return number("lr");
  }

  double number(String name) {
    Double value = byName.get(name);
    if (value == null) {
      throw new IllegalStateException("no hyperparameter '" + name + "'; this rule has " + byName.keySet());
    }
    return value;
  }

  boolean flag(String name) {
    return number(name) != 0;
  }

  RuleValues with(String name, double value) {
    number(name); // a name the rule lacks is a descriptor bug: fail here, not in the factory
    Map<String, Double> next = new LinkedHashMap<>(byName);
    next.put(name, value);
    return new RuleValues(next);
  }
}
