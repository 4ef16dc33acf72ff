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

/**
 * The kernel that implements a DSL rule. A switch expression over {@link Rule#kind()} with no
 * default: javac refuses this class when a rule is added and its kernel is missing. Each kind's
 * record type is fixed by its descriptor (dsl's RuleLayersTest), so the casts cannot fail.
 */
public final class UpdateKernels {
  private UpdateKernels() {}

  public static UpdateKernel forRule(Rule rule) {
    return switch (rule.kind()) {
      case SGD -> new SgdKernel();
      case MOMENTUM -> {
        Rule.Momentum m = (Rule.Momentum) rule;
        yield new MomentumKernel(m.beta(), m.dampening());
      }
      case NESTEROV -> new NesterovKernel(((Rule.Nesterov) rule).beta());
      case ADAGRAD -> {
        Rule.Adagrad a = (Rule.Adagrad) rule;
        yield new AdagradKernel(a.eps(), a.initialAccumulator(), a.lrDecay());
      }
      case RMSPROP -> {
        Rule.Rmsprop r = (Rule.Rmsprop) rule;
        yield new RmspropKernel(r.rho(), r.eps(), r.momentum(), r.centered(), r.epsInsideSqrt());
      }
      case ADAM, ADAMW -> {
        Rule.AdamFamily a = (Rule.AdamFamily) rule;
        yield new AdamKernel(a.beta1(), a.beta2(), a.eps(), a.amsgrad(), a.decoupledWeightDecay());
      }
      case LION -> {
        Rule.Lion l = (Rule.Lion) rule;
        yield new LionKernel(l.beta1(), l.beta2());
      }
    };
  }
}
