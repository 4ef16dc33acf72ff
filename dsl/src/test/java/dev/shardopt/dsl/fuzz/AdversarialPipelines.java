package dev.shardopt.dsl.fuzz;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import dev.shardopt.v1.Adagrad;
import dev.shardopt.v1.Adam;
import dev.shardopt.v1.AdamW;
import dev.shardopt.v1.Clipping;
import dev.shardopt.v1.Cosine;
import dev.shardopt.v1.CosineRestarts;
import dev.shardopt.v1.ExponentialDecay;
import dev.shardopt.v1.Lion;
import dev.shardopt.v1.Momentum;
import dev.shardopt.v1.Nesterov;
import dev.shardopt.v1.OptimizerPipeline;
import dev.shardopt.v1.ParameterRule;
import dev.shardopt.v1.Rmsprop;
import dev.shardopt.v1.Schedule;
import dev.shardopt.v1.Sgd;
import dev.shardopt.v1.StepDecay;

/** Builds adversarial {@code OptimizerPipeline} messages from fuzzer data. */
public final class AdversarialPipelines {
  private static final double[] SPECIAL = {
    Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, -0.0, 0.0, Double.MIN_VALUE,
    Double.MAX_VALUE, -1.0, 1.0, 0.5, 1e-3, 1 - 1e-16, 1e308
  };

  private AdversarialPipelines() {}

  /** A double that is often special (NaN, inf, -0, subnormal, 1 - ulp) and otherwise any value. */
  public static double number(FuzzedDataProvider d) {
    return d.consumeBoolean() ? SPECIAL[d.consumeInt(0, SPECIAL.length - 1)] : d.consumeDouble();
  }

  /** A uint64 field's raw bits: small, huge, or past Long.MAX_VALUE. */
  public static long unsigned64(FuzzedDataProvider d) {
    return switch (d.consumeInt(0, 3)) {
      case 0 -> d.consumeLong(0, 1000);
      case 1 -> -1L; // 2^64 - 1
      case 2 -> Long.MIN_VALUE; // 2^63
      default -> d.consumeLong();
    };
  }

  public static OptimizerPipeline message(FuzzedDataProvider d) {
    OptimizerPipeline.Builder b = OptimizerPipeline.newBuilder();
    if (d.consumeBoolean()) {
      b.setSpecVersion(d.consumeInt());
    }
    switch (d.consumeInt(0, 8)) {
      case 0 -> {
        Sgd.Builder r = Sgd.newBuilder();
        if (d.consumeBoolean()) r.setLr(number(d));
        b.setSgd(r);
      }
      case 1 -> {
        Momentum.Builder r = Momentum.newBuilder();
        if (d.consumeBoolean()) r.setLr(number(d));
        if (d.consumeBoolean()) r.setBeta(number(d));
        if (d.consumeBoolean()) r.setDampening(number(d));
        b.setMomentum(r);
      }
      case 2 -> {
        Nesterov.Builder r = Nesterov.newBuilder();
        if (d.consumeBoolean()) r.setLr(number(d));
        if (d.consumeBoolean()) r.setBeta(number(d));
        b.setNesterov(r);
      }
      case 3 -> {
        Adagrad.Builder r = Adagrad.newBuilder();
        if (d.consumeBoolean()) r.setLr(number(d));
        if (d.consumeBoolean()) r.setEps(number(d));
        if (d.consumeBoolean()) r.setInitialAccumulator(number(d));
        if (d.consumeBoolean()) r.setLrDecay(number(d));
        b.setAdagrad(r);
      }
      case 4 -> {
        Rmsprop.Builder r = Rmsprop.newBuilder();
        if (d.consumeBoolean()) r.setLr(number(d));
        if (d.consumeBoolean()) r.setRho(number(d));
        if (d.consumeBoolean()) r.setEps(number(d));
        if (d.consumeBoolean()) r.setMomentum(number(d));
        r.setCentered(d.consumeBoolean()).setEpsInsideSqrt(d.consumeBoolean());
        b.setRmsprop(r);
      }
      case 5 -> {
        Adam.Builder r = Adam.newBuilder();
        if (d.consumeBoolean()) r.setLr(number(d));
        if (d.consumeBoolean()) r.setBeta1(number(d));
        if (d.consumeBoolean()) r.setBeta2(number(d));
        if (d.consumeBoolean()) r.setEps(number(d));
        b.setAdam(r.setAmsgrad(d.consumeBoolean()));
      }
      case 6 -> {
        AdamW.Builder r = AdamW.newBuilder();
        if (d.consumeBoolean()) r.setLr(number(d));
        if (d.consumeBoolean()) r.setBeta1(number(d));
        if (d.consumeBoolean()) r.setBeta2(number(d));
        if (d.consumeBoolean()) r.setEps(number(d));
        b.setAdamw(r.setAmsgrad(d.consumeBoolean()));
      }
      case 7 -> {
        Lion.Builder r = Lion.newBuilder();
        if (d.consumeBoolean()) r.setLr(number(d));
        if (d.consumeBoolean()) r.setBeta1(number(d));
        if (d.consumeBoolean()) r.setBeta2(number(d));
        b.setLion(r);
      }
      default -> { } // no rule
    }
    if (d.consumeBoolean()) {
      Schedule.Builder s = Schedule.newBuilder().setWarmupSteps(unsigned64(d));
      switch (d.consumeInt(0, 4)) {
        case 0 -> s.setCosine(Cosine.newBuilder().setTotalSteps(unsigned64(d)).setMinLr(number(d)));
        case 1 -> {
          StepDecay.Builder sd = StepDecay.newBuilder().setEvery(unsigned64(d));
          if (d.consumeBoolean()) sd.setGamma(number(d));
          s.setStepDecay(sd);
        }
        case 2 -> s.setExponentialDecay(ExponentialDecay.newBuilder().setGamma(number(d)));
        case 3 -> s.setCosineRestarts(CosineRestarts.newBuilder()
            .setPeriod(unsigned64(d)).setMult(unsigned64(d)).setMinLr(number(d)));
        default -> { }
      }
      b.setSchedule(s);
    }
    if (d.consumeBoolean()) {
      Clipping.Builder c = Clipping.newBuilder();
      if (d.consumeBoolean()) c.setValue(number(d));
      if (d.consumeBoolean()) c.setNorm(number(d));
      b.setClipping(c);
    }
    if (d.consumeBoolean()) b.setWeightDecay(number(d));
    if (d.consumeBoolean()) b.setAccumulate(d.consumeBoolean() ? d.consumeInt(0, 64) : d.consumeInt());
    if (d.consumeBoolean()) b.setNonFiniteValue(d.consumeInt(-2, 4));
    int rules = d.consumeInt(0, 6);
    for (int i = 0; i < rules; i++) {
      b.addParameterRules(ParameterRule.newBuilder()
          .setKindValue(d.consumeInt(-1, 5))
          .setGlob(d.consumeString(24))
          .setLrScale(number(d)));
    }
    return b.build();
  }
}
