package dev.shardopt.dsl.fuzz;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.shardopt.dsl.Glob;
import dev.shardopt.dsl.InvalidPipelineException;
import java.util.regex.Pattern;

/**
 * Fuzzes {@link Glob#matches} against an independent reference, the glob translated to a
 * {@code java.util.regex} pattern ({@code *} to {@code .*}, {@code ?} to {@code .}, the rest
 * quoted), on short globs and names over a small alphabet that includes unicode, so that the
 * regex's backtracking stays cheap here.
 */
class GlobFuzzTest {

  @FuzzTest(maxDuration = "4s")
  void matchesLikeTheRegex(FuzzedDataProvider data) {
    String pattern = data.consumeString(12);
    String name = data.consumeRemainingAsString();
    if (name.length() > 40) {
      name = name.substring(0, 40);
    }
    Glob glob;
    try {
      glob = new Glob(pattern);
    } catch (InvalidPipelineException e) {
      assertThat(pattern).isEmpty();
      return;
    }
    // The reference backtracks (the reason Glob no longer uses it): runs of '*' are collapsed,
    // which keeps the meaning, and globs with more than 4 star runs are not compared.
    String collapsed = pattern.replaceAll("\\*+", "*");
    if (collapsed.chars().filter(c -> c == '*').count() > 4) {
      return;
    }
    assertThat(glob.matches(name)).as("glob %s on %s", pattern, name).isEqualTo(reference(collapsed, name));
  }

  /** The glob as a regex: literal runs quoted whole (so surrogate pairs stay pairs). */
  static boolean reference(String glob, String name) {
    StringBuilder re = new StringBuilder();
    StringBuilder literal = new StringBuilder();
    for (char c : glob.toCharArray()) {
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
    return Pattern.compile(re.toString(), Pattern.DOTALL).matcher(name).matches();
  }
}
