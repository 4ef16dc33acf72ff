package dev.shardopt.dsl;

import java.util.regex.Pattern;

/**
 * A parameter-name glob: {@code *} matches any run of characters (dots included), {@code ?}
 * matches exactly one character, everything else matches itself.
 */
public record Glob(String pattern) {

  public Glob {
    if (pattern == null || pattern.isEmpty()) {
      throw new InvalidPipelineException("a glob must not be empty; use \"*\" to match every parameter");
    }
  }

  public boolean matches(String name) {
    return regex().matcher(name).matches();
  }

  private Pattern regex() {
    StringBuilder re = new StringBuilder();
    StringBuilder literal = new StringBuilder();
    for (char c : pattern.toCharArray()) {
      if (c == '*' || c == '?') {
        if (literal.length() > 0) {
          re.append(Pattern.quote(literal.toString()));
          literal.setLength(0);
        }
        re.append(c == '*' ? ".*" : ".");
      } else {
        literal.append(c);
      }
    }
    if (literal.length() > 0) {
      re.append(Pattern.quote(literal.toString()));
    }
    return Pattern.compile(re.toString(), Pattern.DOTALL);
  }

  @Override
  public String toString() {
    return pattern;
  }
}
