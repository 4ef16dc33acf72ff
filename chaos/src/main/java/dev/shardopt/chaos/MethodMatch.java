package dev.shardopt.chaos;

/**
 * Which calls a fault applies to, by gRPC full method name ({@code package.Service/Method}):
 * one method exactly, or every method whose name starts with a prefix (a service:
 * {@code "shardopt.v1.Worker/"}; everything: {@code ""}).
 *
 * @param text the method name or the prefix
 * @param prefix whether {@code text} is a prefix rather than a whole name
 */
public record MethodMatch(String text, boolean prefix) {
  public MethodMatch {
    if (text == null) {
      throw new IllegalArgumentException("method match: text must not be null");
    }
    if (!prefix && text.isEmpty()) {
      throw new IllegalArgumentException("method match: an exact method name must not be empty"
          + " (use MethodMatch.any() for every method)");
    }
  }

  /** The one method {@code fullMethodName}, e.g. {@code "shardopt.v1.Worker/Push"}. */
  public static MethodMatch exact(String fullMethodName) {
    return new MethodMatch(fullMethodName, false);
  }

  /** Every method whose full name starts with {@code prefix}, e.g. {@code "shardopt.v1.Worker/"}. */
  public static MethodMatch prefix(String prefix) {
    return new MethodMatch(prefix, true);
  }

  /** Every method. */
  public static MethodMatch any() {
    return new MethodMatch("", true);
  }

  public boolean matches(String fullMethodName) {
    return prefix ? fullMethodName.startsWith(text) : fullMethodName.equals(text);
  }

  @Override
  public String toString() {
    return prefix ? text + "*" : text;
  }
}
