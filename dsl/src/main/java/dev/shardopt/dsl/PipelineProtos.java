package dev.shardopt.dsl;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import dev.shardopt.v1.Clipping;
import dev.shardopt.v1.Cosine;
import dev.shardopt.v1.CosineRestarts;
import dev.shardopt.v1.ExponentialDecay;
import dev.shardopt.v1.NonFinitePolicy;
import dev.shardopt.v1.OptimizerPipeline;
import dev.shardopt.v1.ParameterRule;
import dev.shardopt.v1.Schedule;
import dev.shardopt.v1.StepDecay;

/**
 * The mapping between {@link Pipeline} and {@code shardopt.v1.OptimizerPipeline}. Writing puts
 * every effective value in the message; reading takes the PyTorch default for an absent field and
 * validates exactly as the DSL does.
 */
final class PipelineProtos {
  static final int SPEC_VERSION = 1;

  private PipelineProtos() {}

  static OptimizerPipeline toProto(Pipeline p) {
    OptimizerPipeline.Builder b = OptimizerPipeline.newBuilder().setSpecVersion(SPEC_VERSION);
    p.rule.kind().descriptor().writeProto(p.rule, b);

    Schedule.Builder schedule = Schedule.newBuilder().setWarmupSteps(p.warmupSteps);
    Decay d = p.decay;
    if (d instanceof Decay.Cosine c) {
      schedule.setCosine(Cosine.newBuilder().setTotalSteps(c.totalSteps()).setMinLr(c.minLr()));
    } else if (d instanceof Decay.StepDecay s) {
      schedule.setStepDecay(StepDecay.newBuilder().setEvery(s.every()).setGamma(s.gamma()));
    } else if (d instanceof Decay.ExponentialDecay e) {
      schedule.setExponentialDecay(ExponentialDecay.newBuilder().setGamma(e.gamma()));
    } else if (d instanceof Decay.CosineRestarts c) {
      schedule.setCosineRestarts(
          CosineRestarts.newBuilder().setPeriod(c.period()).setMult(c.mult()).setMinLr(c.minLr()));
    }
    b.setSchedule(schedule);

    Clipping.Builder clipping = Clipping.newBuilder();
    p.clipValueLimit().ifPresent(clipping::setValue);
    p.clipNormLimit().ifPresent(clipping::setNorm);
    b.setClipping(clipping);
    b.setWeightDecay(p.weightDecay);
    b.setAccumulate(p.accumulate);
    b.setNonFinite(p.skipNonFinite
        ? NonFinitePolicy.NON_FINITE_POLICY_SKIP_STEP
        : NonFinitePolicy.NON_FINITE_POLICY_REJECT);
    for (Glob g : p.noDecay) {
      b.addParameterRules(ParameterRule.newBuilder().setKind(ParameterRule.Kind.NO_DECAY).setGlob(g.pattern()));
    }
    for (Glob g : p.freeze) {
      b.addParameterRules(ParameterRule.newBuilder().setKind(ParameterRule.Kind.FREEZE).setGlob(g.pattern()));
    }
    for (LrScale l : p.lrScales) {
      b.addParameterRules(ParameterRule.newBuilder().setKind(ParameterRule.Kind.LR_SCALE)
          .setGlob(l.glob().pattern()).setLrScale(l.factor()));
    }
    return b.build();
  }

  static Pipeline fromProto(OptimizerPipeline m) {
    if (Integer.compareUnsigned(m.getSpecVersion(), SPEC_VERSION) > 0) {
      throw new InvalidPipelineException("spec_version " + Integer.toUnsignedString(m.getSpecVersion())
          + " is newer than this build reads (" + SPEC_VERSION + ")");
    }
    Pipeline.Builder b = new Pipeline.Builder(rule(m));
    if (m.hasSchedule()) {
      Schedule s = m.getSchedule();
      b.warmupSteps = uint64("schedule.warmup_steps", s.getWarmupSteps());
      b.decay = switch (s.getDecayCase()) {
        case COSINE -> new Decay.Cosine(
            uint64("schedule.cosine.total_steps", s.getCosine().getTotalSteps()), s.getCosine().getMinLr());
        case STEP_DECAY -> new Decay.StepDecay(
            uint64("schedule.step_decay.every", s.getStepDecay().getEvery()),
            s.getStepDecay().hasGamma() ? s.getStepDecay().getGamma() : Decay.StepDecay.DEFAULT_GAMMA);
        case EXPONENTIAL_DECAY -> new Decay.ExponentialDecay(s.getExponentialDecay().getGamma());
        case COSINE_RESTARTS -> new Decay.CosineRestarts(
            uint64("schedule.cosine_restarts.period", s.getCosineRestarts().getPeriod()),
            Math.max(1, uint64("schedule.cosine_restarts.mult", s.getCosineRestarts().getMult())),
            s.getCosineRestarts().getMinLr());
        case DECAY_NOT_SET -> Decay.None.INSTANCE;
      };
    }
    if (m.getClipping().hasValue()) {
      b.clipValue = Check.positive("clipping.value", m.getClipping().getValue());
    }
    if (m.getClipping().hasNorm()) {
      b.clipNorm = Check.positive("clipping.norm", m.getClipping().getNorm());
    }
    if (m.hasWeightDecay()) {
      b.weightDecay = Check.nonNegative("weight_decay", m.getWeightDecay());
    }
    b.accumulate = Math.max(1, uint32("accumulate", m.getAccumulate()));
    b.skipNonFinite = switch (m.getNonFinite()) {
      case NON_FINITE_POLICY_SKIP_STEP -> true;
      case NON_FINITE_POLICY_REJECT, NON_FINITE_POLICY_UNSPECIFIED -> false;
      case UNRECOGNIZED -> throw new InvalidPipelineException(
          "non_finite " + m.getNonFiniteValue() + " is unknown; allowed: NON_FINITE_POLICY_REJECT, NON_FINITE_POLICY_SKIP_STEP");
    };
    Pipeline p = b.rule.kind().descriptor().typed(b);
    if (m.getParameterRulesCount() > Pipeline.MAX_PARAMETER_RULES) {
      throw new InvalidPipelineException("parameter_rules has " + m.getParameterRulesCount()
          + " entries; at most " + Pipeline.MAX_PARAMETER_RULES + " are allowed");
    }
    for (int i = 0; i < m.getParameterRulesCount(); i++) {
      ParameterRule pr = m.getParameterRules(i);
      p = switch (pr.getKind()) {
        case NO_DECAY -> p.noDecay(pr.getGlob());
        case FREEZE -> p.freeze(pr.getGlob());
        case LR_SCALE -> p.lrScale(pr.getGlob(), pr.getLrScale());
        default -> throw new InvalidPipelineException(
            "parameter_rules[" + i + "].kind " + pr.getKind() + " is not allowed; use NO_DECAY, FREEZE or LR_SCALE");
      };
    }
    return p;
  }

  /**
   * A uint64 field's value; Java reads one past {@code Long.MAX_VALUE} as negative, which must be
   * refused by its unsigned value rather than clamped or misreported.
   */
  private static long uint64(String field, long raw) {
    if (raw < 0) {
      throw new InvalidPipelineException(field + " must be in [0, " + Long.MAX_VALUE + "], got "
          + Long.toUnsignedString(raw));
    }
    return raw;
  }

  /** A uint32 field's value, refused past {@code Integer.MAX_VALUE} (Java reads it as negative). */
  private static int uint32(String field, int raw) {
    if (raw < 0) {
      throw new InvalidPipelineException(field + " must be in [0, " + Integer.MAX_VALUE + "], got "
          + Integer.toUnsignedString(raw));
    }
    return raw;
  }

  private static Rule rule(OptimizerPipeline m) {
    if (m.getRuleCase() == OptimizerPipeline.RuleCase.RULE_NOT_SET) {
      throw new InvalidPipelineException(
          "rule is not set; a pipeline needs exactly one of " + String.join(", ", RuleModifiers.RULES));
    }
    RuleDescriptor<?, ?> d =
        RuleDescriptors.ALL.stream()
            .filter(x -> x.isSetIn(m))
            .findFirst()
            .orElseThrow(() -> new InvalidPipelineException(
                "rule " + m.getRuleCase() + " is unknown to this build; allowed: "
                    + String.join(", ", RuleModifiers.RULES)));
    return d.readProto(m);
  }

  static String toJson(Pipeline p) {
    try {
      return JsonFormat.printer().print(toProto(p));
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("a pipeline message could not be printed as JSON", e);
    }
  }

  static Pipeline fromJson(String json) {
    OptimizerPipeline.Builder b = OptimizerPipeline.newBuilder();
    try {
      JsonFormat.parser().merge(json, b);
    } catch (InvalidProtocolBufferException e) {
      throw new InvalidPipelineException("pipeline JSON does not parse: " + e.getMessage());
    }
    return fromProto(b.build());
  }
}
