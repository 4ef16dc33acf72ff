package dev.shardopt.dsl;

import java.util.ArrayList;
import java.util.List;

/**
 * Prints the canonical text form: the rule with its non-default hyperparameters, then schedule,
 * clipping, weight decay, accumulate, skipNonFinite and the parameter rules, each only when it
 * differs from the default. The output parses back to an equal pipeline and compiles as Java.
 */
final class PipelineText {
  private PipelineText() {}

  static String format(Pipeline p) {
    StringBuilder s = new StringBuilder();
    Rule r = p.rule;
    s.append(r.kind().descriptor().text(r));
    if (p.warmupSteps > 0) {
      s.append(".warmup(").append(p.warmupSteps).append(')');
    }
    Decay d = p.decay;
    if (d instanceof Decay.Cosine c) {
      call(s, "cosine", c.totalSteps(), c.minLr() == 0 ? null : Numbers.format(c.minLr()));
    } else if (d instanceof Decay.StepDecay sd) {
      call(s, "stepDecay", sd.every(),
          sd.gamma() == Decay.StepDecay.DEFAULT_GAMMA ? null : Numbers.format(sd.gamma()));
    } else if (d instanceof Decay.ExponentialDecay e) {
      s.append(".exponentialDecay(").append(Numbers.format(e.gamma())).append(')');
    } else if (d instanceof Decay.CosineRestarts cr) {
      List<String> args = new ArrayList<>(List.of(Long.toString(cr.period())));
      if (cr.mult() != 1 || cr.minLr() != 0) {
        args.add(Long.toString(cr.mult()));
      }
      if (cr.minLr() != 0) {
        args.add(Numbers.format(cr.minLr()));
      }
      s.append(".cosineRestarts(").append(String.join(", ", args)).append(')');
    }
    p.clipValueLimit().ifPresent(c -> s.append(".clipValue(").append(Numbers.format(c)).append(')'));
    p.clipNormLimit().ifPresent(c -> s.append(".clipNorm(").append(Numbers.format(c)).append(')'));
    if (Double.compare(p.weightDecay, r.defaultWeightDecay()) != 0) {
      s.append(".weightDecay(").append(Numbers.format(p.weightDecay)).append(')');
    }
    if (p.accumulate != 1) {
      s.append(".accumulate(").append(p.accumulate).append(')');
    }
    if (p.skipNonFinite) {
      s.append(".skipNonFinite()");
    }
    globs(s, "noDecay", p.noDecay);
    globs(s, "freeze", p.freeze);
    for (LrScale l : p.lrScales) {
      s.append(".lrScale(").append(quote(l.glob().pattern())).append(", ")
          .append(Numbers.format(l.factor())).append(')');
    }
    return s.toString();
  }

  private static void call(StringBuilder s, String name, long steps, String second) {
    s.append('.').append(name).append('(').append(steps);
    if (second != null) {
      s.append(", ").append(second);
    }
    s.append(')');
  }

  private static void globs(StringBuilder s, String name, List<Glob> globs) {
    if (globs.isEmpty()) {
      return;
    }
    s.append('.').append(name).append('(');
    for (int i = 0; i < globs.size(); i++) {
      s.append(i == 0 ? "" : ", ").append(quote(globs.get(i).pattern()));
    }
    s.append(')');
  }

  /** A Java string literal. */
  static String quote(String raw) {
    StringBuilder s = new StringBuilder("\"");
    for (char c : raw.toCharArray()) {
      switch (c) {
        case '"' -> s.append("\\\"");
        case '\\' -> s.append("\\\\");
        case '\n' -> s.append("\\n");
        case '\t' -> s.append("\\t");
        case '\r' -> s.append("\\r");
        default -> {
          if (c < 0x20 || c > 0x7e) {
            s.append(String.format("\\u%04x", (int) c));
          } else {
            s.append(c);
          }
        }
      }
    }
    return s.append('"').toString();
  }
}
