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
    Rule defaults = defaults(r);
    s.append(r.name()).append('(');
    if (Double.compare(r.lr(), defaults.lr()) != 0) {
      s.append(Numbers.format(r.lr()));
    }
    s.append(')');
    for (Object[] h : hyperparameters(r, defaults)) {
      Object value = h[1];
      if (value.equals(h[2])) {
        continue;
      }
      s.append('.').append(h[0]).append('(');
      if (value instanceof Double d) {
        s.append(Numbers.format(d));
      }
      s.append(')');
    }
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

  static Rule defaults(Rule r) {
    if (r instanceof Rule.Sgd) {
      return new Rule.Sgd(Rule.Sgd.DEFAULT_LR);
    } else if (r instanceof Rule.Momentum) {
      return Rule.Momentum.DEFAULTS;
    } else if (r instanceof Rule.Nesterov) {
      return Rule.Nesterov.DEFAULTS;
    } else if (r instanceof Rule.Adagrad) {
      return Rule.Adagrad.DEFAULTS;
    } else if (r instanceof Rule.Rmsprop) {
      return Rule.Rmsprop.DEFAULTS;
    } else if (r instanceof Rule.Adam) {
      return Rule.Adam.DEFAULTS;
    } else if (r instanceof Rule.AdamW) {
      return Rule.AdamW.DEFAULTS;
    }
    return Rule.Lion.DEFAULTS;
  }

  /** Rows of {name, value, default}: Double for values, Boolean for flags. */
  private static List<Object[]> hyperparameters(Rule r, Rule d) {
    List<Object[]> out = new ArrayList<>();
    if (r instanceof Rule.Momentum m) {
      Rule.Momentum md = (Rule.Momentum) d;
      out.add(new Object[] {"beta", m.beta(), md.beta()});
      out.add(new Object[] {"dampening", m.dampening(), md.dampening()});
    } else if (r instanceof Rule.Nesterov n) {
      out.add(new Object[] {"beta", n.beta(), ((Rule.Nesterov) d).beta()});
    } else if (r instanceof Rule.Adagrad a) {
      Rule.Adagrad ad = (Rule.Adagrad) d;
      out.add(new Object[] {"eps", a.eps(), ad.eps()});
      out.add(new Object[] {"initialAccumulator", a.initialAccumulator(), ad.initialAccumulator()});
      out.add(new Object[] {"lrDecay", a.lrDecay(), ad.lrDecay()});
    } else if (r instanceof Rule.Rmsprop m) {
      Rule.Rmsprop md = (Rule.Rmsprop) d;
      out.add(new Object[] {"rho", m.rho(), md.rho()});
      out.add(new Object[] {"eps", m.eps(), md.eps()});
      out.add(new Object[] {"momentum", m.momentum(), md.momentum()});
      out.add(new Object[] {"centered", m.centered(), false});
      out.add(new Object[] {"epsInsideSqrt", m.epsInsideSqrt(), false});
    } else if (r instanceof Rule.Adam a) {
      Rule.Adam ad = (Rule.Adam) d;
      out.add(new Object[] {"beta1", a.beta1(), ad.beta1()});
      out.add(new Object[] {"beta2", a.beta2(), ad.beta2()});
      out.add(new Object[] {"eps", a.eps(), ad.eps()});
      out.add(new Object[] {"amsgrad", a.amsgrad(), false});
    } else if (r instanceof Rule.AdamW a) {
      Rule.AdamW ad = (Rule.AdamW) d;
      out.add(new Object[] {"beta1", a.beta1(), ad.beta1()});
      out.add(new Object[] {"beta2", a.beta2(), ad.beta2()});
      out.add(new Object[] {"eps", a.eps(), ad.eps()});
      out.add(new Object[] {"amsgrad", a.amsgrad(), false});
    } else if (r instanceof Rule.Lion l) {
      Rule.Lion ld = (Rule.Lion) d;
      out.add(new Object[] {"beta1", l.beta1(), ld.beta1()});
      out.add(new Object[] {"beta2", l.beta2(), ld.beta2()});
    }
    return out;
  }
}
