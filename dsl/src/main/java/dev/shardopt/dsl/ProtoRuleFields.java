package dev.shardopt.dsl;

import com.google.protobuf.Descriptors.FieldDescriptor.JavaType;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Message;
import dev.shardopt.v1.OptimizerPipeline;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Where a rule lives in {@code OptimizerPipeline}: the {@code rule} oneof field named as the rule,
 * a message with one field per hyperparameter in snake_case ({@code initialAccumulator} is
 * {@code initial_accumulator}): {@code optional double} for numbers, absent meaning the default, and
 * {@code bool} for flags. Resolved when the descriptors load, so a missing field fails at once.
 */
final class ProtoRuleFields {
  private final FieldDescriptor rule;
  /** By hyperparameter name, in the rule's order. */
  private final Map<String, FieldDescriptor> fields = new LinkedHashMap<>();

  ProtoRuleFields(String ruleName, List<? extends Hyperparameter<?>> hyperparameters) {
    rule = OptimizerPipeline.getDescriptor().findFieldByName(ruleName);
    if (rule == null || rule.getRealContainingOneof() == null
        || !rule.getRealContainingOneof().getName().equals("rule")) {
      throw new IllegalStateException(
          "OptimizerPipeline has no field '" + ruleName + "' in its rule oneof; every rule needs one");
    }
    for (Hyperparameter<?> h : hyperparameters) {
      String fieldName = snakeCase(h.name());
      FieldDescriptor f = rule.getMessageType().findFieldByName(fieldName);
      JavaType expected = h.flag() ? JavaType.BOOLEAN : JavaType.DOUBLE;
      if (f == null || f.getJavaType() != expected || (!h.flag() && !f.hasPresence())) {
        throw new IllegalStateException(
            rule.getMessageType().getFullName() + " needs a field '" + fieldName + "' of type "
                + (h.flag() ? "bool" : "optional double") + " for " + ruleName + "'s " + h.name());
      }
      fields.put(h.name(), f);
    }
  }

  boolean isSetIn(OptimizerPipeline m) {
    return m.hasField(rule);
  }

  /** Writes every value, defaults included, so the message carries the effective rule. */
  void write(RuleValues values, OptimizerPipeline.Builder b) {
    Message.Builder message = b.newBuilderForField(rule);
    fields.forEach(
        (name, f) -> message.setField(
            f, f.getJavaType() == JavaType.BOOLEAN ? (Object) values.flag(name) : (Object) values.number(name)));
    b.setField(rule, message.build());
  }

  /** The values in {@code m}, taking {@code defaults} for absent numbers; flags are off unless set. */
  RuleValues read(OptimizerPipeline m, RuleValues defaults) {
    Message message = (Message) m.getField(rule);
    RuleValues out = defaults;
    for (Map.Entry<String, FieldDescriptor> e : fields.entrySet()) {
      FieldDescriptor f = e.getValue();
      if (f.getJavaType() == JavaType.BOOLEAN) {
        out = out.with(e.getKey(), (Boolean) message.getField(f) ? 1 : 0);
      } else if (message.hasField(f)) {
        out = out.with(e.getKey(), (Double) message.getField(f));
      }
    }
    return out;
  }

  static String snakeCase(String camel) {
    return camel.replaceAll("([A-Z])", "_$1").toLowerCase(Locale.ROOT);
  }
}
