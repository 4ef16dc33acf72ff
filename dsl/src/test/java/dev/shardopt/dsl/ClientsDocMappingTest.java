package dev.shardopt.dsl;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Descriptors.EnumValueDescriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Message;
import dev.shardopt.v1.OptimizerPipeline;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * docs/clients.md maps the text form to {@code OptimizerPipeline} for readers who do not use the
 * parser. This test reads its two tables and keeps them true: every DSL method is listed, each
 * rule's defaults, weight decay, modifiers and field names are the DSL's and the proto's, and each
 * modifier example sets exactly the fields the doc lists, no other.
 */
class ClientsDocMappingTest {
  private static final Pattern CODE = Pattern.compile("`([^`]*)`");
  /** {@code `name` → `field` = default} or {@code `name()` → `field` = false}. */
  private static final Pattern MODIFIER = Pattern.compile("`(\\w+)(\\(\\))?` → `(\\w+)` = (\\S+)");
  /** {@code path = value}, value a number, an enum name, true/false, or {@code {k: v, ...}}. */
  private static final Pattern ASSIGNMENT = Pattern.compile("([\\w.\\[\\]]+) = (\\{[^}]*\\}|\"[^\"]*\"|[^,]+)");

  record RuleRow(String rule, double lr, String weightDecay, String modifiers) {}

  record CallRow(String method, String signature, String example, String sets) {}

  private static List<RuleRow> rules;
  private static List<CallRow> calls;

  @BeforeAll
  static void readDoc() throws IOException {
    List<String> lines = Files.readAllLines(doc(), StandardCharsets.UTF_8);
    rules = new ArrayList<>();
    calls = new ArrayList<>();
    String section = "";
    for (String line : lines) {
      if (line.startsWith("#")) {
        section = line;
        continue;
      }
      if (!line.startsWith("| `")) {
        continue;
      }
      List<String> cells = cells(line);
      if (section.equals("### Base rules and their modifiers")) {
        String head = code(cells.get(0));
        rules.add(new RuleRow(head.substring(0, head.indexOf('(')), Double.parseDouble(cells.get(1)), cells.get(2),
            cells.get(3)));
      } else if (section.equals("### Pipeline modifiers")) {
        String signature = code(cells.get(0));
        calls.add(new CallRow(signature.substring(0, signature.indexOf('(')), signature, code(cells.get(1)),
            cells.get(2)));
      }
    }
  }

  /** docs/clients.md, found from the module directory up. */
  private static Path doc() {
    Path dir = Path.of("").toAbsolutePath();
    while (dir != null && !Files.isRegularFile(dir.resolve("docs/clients.md"))) {
      dir = dir.getParent();
    }
    assertThat(dir).as("docs/clients.md above the working directory").isNotNull();
    return dir.resolve("docs/clients.md");
  }

  private static List<String> cells(String row) {
    String inner = row.substring(1, row.lastIndexOf('|'));
    List<String> out = new ArrayList<>();
    for (String c : inner.split("\\|", -1)) {
      out.add(c.strip());
    }
    return out;
  }

  private static String code(String cell) {
    Matcher m = CODE.matcher(cell);
    assertThat(m.find()).as("a `code` span in '%s'", cell).isTrue();
    return m.group(1);
  }

  @Test
  void theTablesListEveryMethodOfTheDslAndNoOther() {
    Set<String> documented = new LinkedHashSet<>();
    rules.forEach(r -> documented.add(r.rule()));
    for (RuleRow r : rules) {
      Matcher m = MODIFIER.matcher(r.modifiers());
      while (m.find()) {
        documented.add(m.group(1));
      }
    }
    calls.forEach(c -> documented.add(c.method()));
    assertThat(documented).containsExactlyInAnyOrderElementsOf(PipelineParser.methodNames());
    assertThat(calls.stream().map(CallRow::method).distinct().toList())
        .containsExactlyInAnyOrderElementsOf(PipelineParser.pipelineModifiers());
  }

  @Test
  void eachRuleRowHasTheDslsDefaultsWeightDecayModifiersAndFields() {
    assertThat(rules).extracting(RuleRow::rule)
        .containsExactlyElementsOf(RuleDescriptors.ALL.stream().map(RuleDescriptor::name).toList());
    for (RuleRow row : rules) {
      RuleDescriptor<?, ?> d = RuleDescriptors.byName(row.rule()).orElseThrow();
      FieldDescriptor ruleField = OptimizerPipeline.getDescriptor().findFieldByName(row.rule());
      assertThat(ruleField).as("OptimizerPipeline.%s", row.rule()).isNotNull();
      // what a message with the rule's empty message reads as: the defaults a client relies on
      Message empty = (Message) Pipeline.fromProto(OptimizerPipeline.newBuilder()
          .setField(ruleField, OptimizerPipeline.newBuilder().newBuilderForField(ruleField).build()).build())
          .toProto().getField(ruleField);
      assertThat(row.lr()).as("%s lr default", row.rule()).isEqualTo(d.defaultLr())
          .isEqualTo((Double) empty.getField(empty.getDescriptorForType().findFieldByName("lr")));
      assertThat(row.weightDecay()).as("%s weight decay", row.rule())
          .isEqualTo((d.decoupledWeightDecay() ? "decoupled, " : "coupled, ") + plain(d.defaultWeightDecay()));

      List<String> names = new ArrayList<>();
      Matcher m = MODIFIER.matcher(row.modifiers());
      while (m.find()) {
        String name = m.group(1);
        boolean flag = m.group(2) != null;
        String field = m.group(3);
        String value = m.group(4).replaceAll("[;,]$", "");
        names.add(name);
        Hyperparameter<?> h = d.modifier(name).orElseThrow(() -> new AssertionError(row.rule() + " has no " + name));
        assertThat(flag).as("%s.%s is a flag", row.rule(), name).isEqualTo(h.flag());
        assertThat(field).as("snake_case of %s", name).isEqualTo(snakeCase(name));
        FieldDescriptor f = empty.getDescriptorForType().findFieldByName(field);
        assertThat(f).as("%s.%s in the proto", row.rule(), field).isNotNull();
        if (flag) {
          assertThat(value).isEqualTo("false");
          assertThat(empty.getField(f)).isEqualTo(false);
        } else {
          assertThat(Double.parseDouble(value)).as("%s.%s default", row.rule(), name).isEqualTo(h.defaultValue())
              .isEqualTo((Double) empty.getField(f));
        }
      }
      if (!row.modifiers().equals("none")) {
        assertThat(names).as("%s modifiers, in order", row.rule()).containsExactlyElementsOf(d.modifierNames());
      } else {
        assertThat(d.modifierNames()).isEmpty();
      }
    }
  }

  @Test
  void eachModifierExampleSetsExactlyTheListedFields() {
    assertThat(calls).hasSizeGreaterThanOrEqualTo(PipelineParser.pipelineModifiers().size());
    OptimizerPipeline base = Pipeline.parse("sgd()").toProto();
    for (CallRow c : calls) {
      assertThat(c.example()).as("example of %s", c.signature()).startsWith("." + c.method() + "(");
      OptimizerPipeline.Builder expected = base.toBuilder();
      Matcher m = ASSIGNMENT.matcher(c.sets().replace("`", ""));
      int n = 0;
      while (m.find()) {
        assign(expected, m.group(1), m.group(2).strip());
        n++;
      }
      assertThat(n).as("assignments of %s", c.signature()).isPositive();
      assertThat(Pipeline.parse("sgd()" + c.example()).toProto()).as("sgd()%s", c.example()).isEqualTo(expected.build());
      int given = argumentCount(c.example());
      int[] arity = arity(c.signature());
      assertThat(given).as("arguments of %s within %s", c.example(), c.signature()).isBetween(arity[0], arity[1]);
    }
  }

  /** Sets {@code path} (e.g. {@code schedule.cosine.total_steps}, {@code parameter_rules[1]}) in {@code b}. */
  private static void assign(Message.Builder b, String path, String value) {
    String[] parts = path.split("\\.");
    Message.Builder at = b;
    for (int i = 0; i < parts.length - 1; i++) {
      at = at.getFieldBuilder(field(at, parts[i]));
    }
    String last = parts[parts.length - 1];
    Matcher indexed = Pattern.compile("(\\w+)\\[(\\d+)]").matcher(last);
    if (indexed.matches()) {
      FieldDescriptor f = field(at, indexed.group(1));
      assertThat(at.getRepeatedFieldCount(f)).as("%s in order", path).isEqualTo(Integer.parseInt(indexed.group(2)));
      Message.Builder element = at.newBuilderForField(f);
      String body = value.substring(1, value.length() - 1);
      for (String pair : body.split(",\\s*(?=\\w+:)")) {
        int colon = pair.indexOf(':');
        FieldDescriptor ef = field(element, pair.substring(0, colon).strip());
        element.setField(ef, parse(ef, pair.substring(colon + 1).strip()));
      }
      at.addRepeatedField(f, element.build());
      return;
    }
    FieldDescriptor f = field(at, last);
    at.setField(f, parse(f, value));
  }

  private static FieldDescriptor field(Message.Builder b, String name) {
    FieldDescriptor f = b.getDescriptorForType().findFieldByName(name);
    assertThat(f).as("field %s of %s", name, b.getDescriptorForType().getFullName()).isNotNull();
    return f;
  }

  private static Object parse(FieldDescriptor f, String v) {
    return switch (f.getJavaType()) {
      case DOUBLE -> Double.parseDouble(v);
      case FLOAT -> Float.parseFloat(v);
      case LONG -> Long.parseLong(v);
      case INT -> Integer.parseInt(v);
      case BOOLEAN -> Boolean.parseBoolean(v);
      case STRING -> v.substring(1, v.length() - 1);
      case ENUM -> {
        EnumValueDescriptor e = f.getEnumType().findValueByName(v);
        assertThat(e).as("%s value %s", f.getName(), v).isNotNull();
        yield e;
      }
      default -> throw new AssertionError("the doc sets " + f.getFullName() + ", of type " + f.getJavaType());
    };
  }

  /** Arguments in an example call; commas inside a string do not count. */
  private static int argumentCount(String example) {
    String args = example.substring(example.indexOf('(') + 1, example.lastIndexOf(')')).replaceAll("\"[^\"]*\"", "s");
    return args.isBlank() ? 0 : args.split(",").length;
  }

  /** [min, max] arguments of {@code name(a[, b[, c]])}; {@code ...} allows any number from the first. */
  private static int[] arity(String signature) {
    String args = signature.substring(signature.indexOf('(') + 1, signature.lastIndexOf(')'));
    if (args.isBlank()) {
      return new int[] {0, 0};
    }
    if (args.contains("...")) {
      return new int[] {1, Integer.MAX_VALUE};
    }
    int required = args.contains("[") ? args.substring(0, args.indexOf('[')).split(",").length : args.split(",").length;
    return new int[] {required, args.split(",").length};
  }

  /** camelCase → snake_case, written here apart from the DSL's own mapping. */
  private static String snakeCase(String camel) {
    StringBuilder s = new StringBuilder();
    for (char ch : camel.toCharArray()) {
      if (Character.isUpperCase(ch)) {
        s.append('_').append(Character.toLowerCase(ch));
      } else {
        s.append(ch);
      }
    }
    return s.toString().toLowerCase(Locale.ROOT);
  }

  private static String plain(double x) {
    return x == Math.rint(x) ? Long.toString((long) x) : Double.toString(x);
  }
}
