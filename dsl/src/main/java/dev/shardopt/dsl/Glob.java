package dev.shardopt.dsl;

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

  /**
   * Whether {@code name} matches, by the greedy two-pointer wildcard walk: on a mismatch after a
   * {@code *}, that star takes one more character and matching resumes after it. At most
   * O(|pattern| * |name|) steps, whatever the glob; the regex this replaced backtracked
   * exponentially on globs with many stars ({@code "*a*a*a*a*a*a*a*a*b"} against a long run of
   * {@code a}), and globs come from clients.
   */
  public boolean matches(String name) {
    int p = 0;
    int n = 0;
    int star = -1; // index in pattern of the last '*' seen
    int resume = 0; // index in name where that star's match ends
    while (n < name.length()) {
      if (p < pattern.length() && (pattern.charAt(p) == '?' || pattern.charAt(p) == name.charAt(n))
          && pattern.charAt(p) != '*') {
        p++;
        n++;
      } else if (p < pattern.length() && pattern.charAt(p) == '*') {
        star = p++;
        resume = n;
      } else if (star >= 0) {
        p = star + 1;
        n = ++resume;
      } else {
        return false;
      }
    }
    while (p < pattern.length() && pattern.charAt(p) == '*') {
      p++;
    }
    return p == pattern.length();
  }

  @Override
  public String toString() {
    return pattern;
  }
}
