package dev.shardopt.engine;

import dev.shardopt.dsl.Rule;
import dev.shardopt.engine.kernel.AdagradKernel;
import dev.shardopt.engine.kernel.AdamKernel;
import dev.shardopt.engine.kernel.LionKernel;
import dev.shardopt.engine.kernel.MomentumKernel;
import dev.shardopt.engine.kernel.NesterovKernel;
import dev.shardopt.engine.kernel.RmspropKernel;
import dev.shardopt.engine.kernel.SgdKernel;
import dev.shardopt.engine.kernel.UpdateKernel;

/** The kernel that implements a DSL rule. */
public final class UpdateKernels {
  private UpdateKernels() {}

  public static UpdateKernel forRule(Rule rule) {
    if (rule instanceof Rule.Sgd) {
      return new SgdKernel();
    } else if (rule instanceof Rule.Momentum m) {
      return new MomentumKernel(m.beta(), m.dampening());
    } else if (rule instanceof Rule.Nesterov n) {
      return new NesterovKernel(n.beta());
    } else if (rule instanceof Rule.Adagrad a) {
      return new AdagradKernel(a.eps(), a.initialAccumulator(), a.lrDecay());
    } else if (rule instanceof Rule.Rmsprop r) {
      return new RmspropKernel(r.rho(), r.eps(), r.momentum(), r.centered(), r.epsInsideSqrt());
    } else if (rule instanceof Rule.Adam a) {
      return new AdamKernel(a.beta1(), a.beta2(), a.eps(), a.amsgrad(), false);
    } else if (rule instanceof Rule.AdamW a) {
      return new AdamKernel(a.beta1(), a.beta2(), a.eps(), a.amsgrad(), true);
    } else if (rule instanceof Rule.Lion) {
      Rule.Lion l = (Rule.Lion) rule;
      return new LionKernel(l.beta1(), l.beta2());
    }
    throw new IllegalArgumentException("no kernel for rule " + rule.name());
  }
}
