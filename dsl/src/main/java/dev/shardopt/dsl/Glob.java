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
    // By code point, so that '?' takes a whole character outside the BMP, as the regex did.
    int[] glob = pattern.codePoints().toArray();
    int[] text = name.codePoints().toArray();
    int p = 0;
    int n = 0;
    int star = -1; // index in glob of the last '*' seen
    int resume = 0; // index in text where that star's match ends
    while (n < text.length) {
      if (p < glob.length && glob[p] != '*' && (glob[p] == '?' || glob[p] == text[n])) {
        p++;
        n++;
      } else if (p < glob.length && glob[p] == '*') {
        star = p++;
        resume = n;
      } else if (star >= 0) {
        p = star + 1;
        n = ++resume;
      } else {
        return false;
      }
    }
    while (p < glob.length && glob[p] == '*') {
      p++;
    }
    return p == glob.length;
  }

  @Override
  public String toString() {
    return pattern;
  }
}
