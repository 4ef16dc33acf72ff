package dev.shardopt.dsl;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Parses the text form: {@code rule(args)} followed by {@code .modifier(args)} calls, the same
 * expression as the Java DSL. Numbers use Java literal syntax ({@code 1e-3}, {@code 100_000},
 * {@code 1e5}); globs are double-quoted Java strings; flags are calls with no argument. Every
 * error names the 1-based column.
 */
final class PipelineParser {
  private static final List<String> PIPELINE_MODIFIERS =
      List.of(
          "weightDecay", "clipNorm", "clipValue", "warmup", "cosine", "stepDecay", "exponentialDecay",
          "cosineRestarts", "accumulate", "skipNonFinite", "noDecay", "freeze", "lrScale");

  // Java decimal literals: underscores only between digits; an optional type suffix.
  private static final String DIGITS = "\\d(?:[\\d_]*\\d)?";
  private static final Pattern NUMBER =
      Pattern.compile(
          "(?:" + DIGITS + "(?:\\.(?:" + DIGITS + ")?)?|\\." + DIGITS + ")(?:[eE][+-]?" + DIGITS + ")?[dDfFlL]?");
  private static final Pattern IDENT = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");

  private final String text;
  private int pos;

  /**
   * Every method name the text form knows, in the DSL's order: the base rules, the pipeline
   * modifiers, then the rule modifiers (a name shared by a rule and a modifier, rmsprop's
   * {@code momentum}, once). docs/clients.md maps each of them to the proto; its test compares.
   */
  static List<String> methodNames() {
    List<String> out = new ArrayList<>(RuleModifiers.RULES);
    out.addAll(PIPELINE_MODIFIERS);
    RuleModifiers.all().stream().filter(n -> !out.contains(n)).forEach(out::add);
    return List.copyOf(out);
  }

  /** The pipeline modifiers: the methods after the rule that are not a rule's hyperparameter. */
  static List<String> pipelineModifiers() {
    return PIPELINE_MODIFIERS;
  }

  PipelineParser(String text) {
    if (text == null) {
      throw new InvalidPipelineException("pipeline text must not be null");
    }
    this.text = text;
  }

  /** An argument: a Double or a String, with its column. */
  private record Arg(Object value, int column) {}

  private record Call(String name, int column, List<Arg> args) {}

  Pipeline parse() {
    skipSpace();
    if (pos >= text.length()) {
      throw error("empty pipeline; start with a base rule: " + String.join(", ", RuleModifiers.RULES), 1);
    }
    Call first = call();
    Pipeline p = startRule(first);
    skipSpace();
    while (pos < text.length()) {
      if (text.charAt(pos) != '.') {
        throw error("expected '.' before the next modifier, got '" + text.charAt(pos) + "'", pos + 1);
      }
      pos++;
      skipSpace();
      Call c = call();
      try {
        p = apply(p, c);
      } catch (InvalidPipelineException e) {
        throw e.at(c.column());
      }
      skipSpace();
    }
    return p;
  }

  private Pipeline startRule(Call c) {
    if (!RuleModifiers.RULES.contains(c.name())) {
      if (PIPELINE_MODIFIERS.contains(c.name()) || RuleModifiers.isRuleModifier(c.name())) {
        throw error("a pipeline starts with its base rule (" + String.join(", ", RuleModifiers.RULES)
            + "), got '" + c.name() + "'", c.column());
      }
      throw unknown(c, RuleModifiers.RULES);
    }
    if (c.args().size() > 1) {
      throw error(c.name() + " takes (lr), got " + c.args().size() + " arguments", c.column());
    }
    RuleDescriptor<?, ?> rule = RuleDescriptors.byName(c.name()).orElseThrow();
    try {
      return c.args().isEmpty() ? rule.start() : rule.start(number(c, 0, "lr"));
    } catch (InvalidPipelineException e) {
      throw e.at(c.column());
    }
  }

  private Pipeline apply(Pipeline p, Call c) {
    String n = c.name();
    // rmsprop's momentum modifier shares its name with a base rule: the rule's own modifiers win.
    if (RuleModifiers.RULES.contains(n) && !p.rule().modifiers().contains(n)) {
      throw error("a pipeline has exactly one base rule, and it comes first; " + n
          + " after " + p.rule().name() + " is not allowed", c.column());
    }
    if (RuleModifiers.isRuleModifier(n)) {
      if (!p.rule().modifiers().contains(n)) {
        throw RuleModifiers.notApplicable(n, p.rule());
      }
      if (RuleModifiers.FLAGS.contains(n)) {
        arity(c, 0, 0, "()");
        return p.ruleModifier(n, null);
      }
      arity(c, 1, 1, "(" + n + ")");
      return p.ruleModifier(n, number(c, 0, n));
    }
    return switch (n) {
      case "weightDecay" -> p.weightDecay(one(c, "wd"));
      case "clipNorm" -> p.clipNorm(one(c, "c"));
      case "clipValue" -> p.clipValue(one(c, "c"));
      case "warmup" -> p.warmup(one(c, "steps"));
      case "exponentialDecay" -> p.exponentialDecay(one(c, "gamma"));
      case "cosine" -> {
        arity(c, 1, 2, "(totalSteps[, minLr])");
        yield c.args().size() == 1
            ? p.cosine(number(c, 0, "totalSteps"))
            : p.cosine(number(c, 0, "totalSteps"), number(c, 1, "minLr"));
      }
      case "stepDecay" -> {
        arity(c, 1, 2, "(every[, gamma])");
        yield c.args().size() == 1
            ? p.stepDecay(number(c, 0, "every"))
            : p.stepDecay(number(c, 0, "every"), number(c, 1, "gamma"));
      }
      case "cosineRestarts" -> {
        arity(c, 1, 3, "(period[, mult[, minLr]])");
        double period = number(c, 0, "period");
        double mult = c.args().size() > 1 ? number(c, 1, "mult") : 1;
        double minLr = c.args().size() > 2 ? number(c, 2, "minLr") : 0;
        yield p.cosineRestarts(period, mult, minLr);
      }
      case "accumulate" -> {
        double k = one(c, "k");
        yield p.accumulate((int) Check.steps("accumulate", k, 1));
      }
      case "skipNonFinite" -> {
        arity(c, 0, 0, "()");
        yield p.skipNonFinite();
      }
      case "noDecay" -> p.noDecay(strings(c, "(\"glob\", ...)"));
      case "freeze" -> p.freeze(strings(c, "(\"glob\", ...)"));
      case "lrScale" -> {
        arity(c, 2, 2, "(\"glob\", factor)");
        yield p.lrScale(string(c, 0, "glob"), number(c, 1, "factor"));
      }
      default -> {
        List<String> known = new ArrayList<>(PIPELINE_MODIFIERS);
        known.addAll(p.rule().modifiers());
        known.addAll(RuleModifiers.all());
        throw unknown(c, known);
      }
    };
  }

  // ---------------------------------------------------------------- arguments

  private double one(Call c, String what) {
    arity(c, 1, 1, "(" + what + ")");
    return number(c, 0, what);
  }

  private void arity(Call c, int min, int max, String signature) {
    int n = c.args().size();
    if (n < min || n > max) {
      throw error(c.name() + " takes " + signature + ", got " + n + (n == 1 ? " argument" : " arguments"),
          c.column());
    }
  }

  private double number(Call c, int index, String what) {
    Arg a = c.args().get(index);
    if (!(a.value() instanceof Double d)) {
      throw error(c.name() + " expects a number for " + what + ", got the string "
          + PipelineText.quote((String) a.value()), a.column());
    }
    return d;
  }

  private String string(Call c, int index, String what) {
    Arg a = c.args().get(index);
    if (!(a.value() instanceof String s)) {
      throw error(c.name() + " expects a double-quoted string for " + what + ", got "
          + Numbers.format((Double) a.value()), a.column());
    }
    return s;
  }

  private String[] strings(Call c, String signature) {
    if (c.args().isEmpty()) {
      throw error(c.name() + " takes " + signature + ", at least one glob", c.column());
    }
    String[] out = new String[c.args().size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = string(c, i, "glob");
    }
    return out;
  }

  // ---------------------------------------------------------------- lexing

  private Call call() {
    int column = pos + 1;
    Matcher m = IDENT.matcher(text).region(pos, text.length());
    if (!m.lookingAt()) {
      throw error("expected a method name, got " + describeHere(), column);
    }
    String name = m.group();
    pos = m.end();
    skipSpace();
    if (pos >= text.length() || text.charAt(pos) != '(') {
      throw error("expected '(' after " + name + ", got " + describeHere(), pos + 1);
    }
    pos++;
    List<Arg> args = new ArrayList<>();
    skipSpace();
    if (pos < text.length() && text.charAt(pos) == ')') {
      pos++;
      return new Call(name, column, args);
    }
    while (true) {
      skipSpace();
      args.add(argument(name));
      skipSpace();
      if (pos >= text.length()) {
        throw error("missing ')' to close " + name + "(", pos + 1);
      }
      char ch = text.charAt(pos);
      pos++;
      if (ch == ')') {
        return new Call(name, column, args);
      }
      if (ch != ',') {
        throw error("expected ',' or ')' in the arguments of " + name + ", got '" + ch + "'", pos);
      }
    }
  }

  private Arg argument(String method) {
    int column = pos + 1;
    if (pos >= text.length()) {
      throw error("expected an argument, got the end of the text", column);
    }
    char ch = text.charAt(pos);
    if (ch == '"') {
      return new Arg(stringLiteral(), column);
    }
    Matcher word = IDENT.matcher(text).region(pos, text.length());
    if (word.lookingAt()) {
      throw nameAsArgument(method, word.group(), word.end(), column);
    }
    boolean negative = false;
    if (ch == '-' || ch == '+') {
      negative = ch == '-';
      pos++;
    }
    Matcher m = NUMBER.matcher(text).region(pos, text.length());
    if (!m.lookingAt()) {
      throw error("expected a number (Java literal syntax, e.g. 1e-3 or 100_000) or a \"glob\", got "
          + describeHere(), pos + 1);
    }
    String lexeme = m.group();
    pos = m.end();
    if (pos < text.length() && (Character.isLetterOrDigit(text.charAt(pos)) || text.charAt(pos) == '_')) {
      throw error("malformed number '" + lexeme + text.charAt(pos) + "...'", column);
    }
    double value = numberValue(lexeme.replace("_", ""), column);
    return new Arg(negative ? -value : value, column);
  }

  private double numberValue(String lexeme, int column) {
    char last = lexeme.charAt(lexeme.length() - 1);
    String body = "dDfFlL".indexOf(last) >= 0 ? lexeme.substring(0, lexeme.length() - 1) : lexeme;
    try {
      if (last == 'f' || last == 'F') {
        return Float.parseFloat(body);
      }
      if (last == 'l' || last == 'L') {
        return Long.parseLong(body);
      }
      return Double.parseDouble(body);
    } catch (NumberFormatException e) {
      throw error("malformed number '" + lexeme + "'", column);
    }
  }

  private String stringLiteral() {
    int start = pos + 1;
    pos++; // opening quote
    StringBuilder s = new StringBuilder();
    while (pos < text.length()) {
      char c = text.charAt(pos++);
      if (c == '"') {
        return s.toString();
      }
      if (c != '\\') {
        s.append(c);
        continue;
      }
      if (pos >= text.length()) {
        break;
      }
      char e = text.charAt(pos++);
      switch (e) {
        case '"' -> s.append('"');
        case '\\' -> s.append('\\');
        case 'n' -> s.append('\n');
        case 't' -> s.append('\t');
        case 'r' -> s.append('\r');
        case '\'' -> s.append('\'');
        case 'u' -> {
          if (pos + 4 > text.length()) {
            throw error("incomplete \\u escape", pos - 1);
          }
          try {
            s.append((char) Integer.parseInt(text.substring(pos, pos + 4), 16));
          } catch (NumberFormatException ex) {
            throw error("malformed \\u escape", pos - 1);
          }
          pos += 4;
        }
        default -> throw error("unknown escape '\\" + e + "' in a string", pos - 1);
      }
    }
    throw error("unterminated string: a closing '\"' is missing", start);
  }

  private void skipSpace() {
    while (pos < text.length() && Character.isWhitespace(text.charAt(pos))) {
      pos++;
    }
  }

  private String describeHere() {
    if (pos >= text.length()) {
      return "the end of the text";
    }
    return "'" + text.charAt(pos) + "'";
  }

  // ---------------------------------------------------------------- errors

  /**
   * A name where an argument belongs: a keyword argument ({@code adam(lr=1e-3)}, Python style), a
   * boolean ({@code centered(true)}) or an unquoted glob. Arguments are positional values only.
   */
  private InvalidPipelineException nameAsArgument(String method, String word, int end, int column) {
    int after = end;
    while (after < text.length() && Character.isWhitespace(text.charAt(after))) {
      after++;
    }
    boolean keyword = after < text.length() && text.charAt(after) == '='
        && (after + 1 >= text.length() || text.charAt(after + 1) != '=');
    if (keyword) {
      String hint = RuleModifiers.RULES.contains(method) && word.equals("lr")
          ? "write the value alone, " + method + "(1e-3)"
          : RuleModifiers.isRuleModifier(word) || PIPELINE_MODIFIERS.contains(word)
              ? "set " + word + " with its own modifier, ." + word + "(...), after " + method + "(...)"
              : "write the values alone, in order";
      return error("keyword argument '" + word + "=' in " + method + "(...): arguments are positional; " + hint,
          column);
    }
    if (word.equals("true") || word.equals("false") || word.equals("True") || word.equals("False")) {
      return error("a flag takes no argument: write ." + method + "() to switch it on, and leave it out for off",
          column);
    }
    if (word.equals("inf") || word.equals("Infinity") || word.equals("NaN") || word.equals("nan")) {
      return error("got '" + word + "': the text form has no name for infinity or NaN; write a finite number",
          column);
    }
    return error("expected a number (Java literal syntax, e.g. 1e-3 or 100_000) or a \"glob\", got the name '"
        + word + "'; a glob is double-quoted, e.g. \"" + word + "\"", column);
  }

  private static InvalidPipelineException error(String reason, int column) {
    return new InvalidPipelineException(reason, column);
  }

  private static InvalidPipelineException unknown(Call c, List<String> known) {
    String best =
        known.stream()
            .distinct()
            .min(Comparator.comparingInt(k -> distance(k.toLowerCase(), c.name().toLowerCase())))
            .orElse(null);
    String name = "unknown method '" + c.name() + "'";
    String tail =
        best != null && distance(best.toLowerCase(), c.name().toLowerCase()) <= Math.max(2, c.name().length() / 3)
            ? " — did you mean '" + best + "'?"
            : "; known: " + String.join(", ", known.stream().distinct().toList());
    return new InvalidPipelineException(name + tail, c.column(), name + " at column " + c.column() + tail);
  }

  /** Levenshtein distance. */
  static int distance(String a, String b) {
    int[] prev = new int[b.length() + 1];
    int[] cur = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      prev[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      cur[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
        cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
      }
      int[] t = prev;
      prev = cur;
      cur = t;
    }
    return prev[b.length()];
  }
}
