package dev.shardopt.dsl.fuzz;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import dev.shardopt.dsl.Glob;
import dev.shardopt.dsl.InvalidPipelineException;
import dev.shardopt.dsl.Optimizers;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.v1.CosineRestarts;
import dev.shardopt.v1.OptimizerPipeline;
import dev.shardopt.v1.ParameterRule;
import dev.shardopt.v1.Schedule;
import dev.shardopt.v1.Sgd;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** One test per input the fuzzers found (docs/fuzzing.md lists them), named by the input. */
class DslFuzzFindingsTest {

  private static OptimizerPipeline.Builder sgd() {
    return OptimizerPipeline.newBuilder().setSgd(Sgd.newBuilder().setLr(0.1));
  }

  @Test
  void textMomentumMinusZeroLrReadsBackEqual() {
    // "momentum(-.00)" was accepted with lr -0.0, printed as momentum(0.0), which read back as a
    // different pipeline (+0.0): the text form did not round-trip.
    Pipeline p = Pipeline.parse("momentum(-.00)");
    assertThat(Double.doubleToRawLongBits(p.rule().lr())).isEqualTo(Double.doubleToRawLongBits(0.0));
    assertThat(Pipeline.parse(p.toString())).isEqualTo(p);
    assertThat(Pipeline.parse("sgd(0.1).weightDecay(-0.0)")).isEqualTo(Pipeline.parse("sgd(0.1).weightDecay(0.0)"));
  }

  @Test
  void protoAccumulateAboveIntMaxIsRefusedNotClampedToOne() {
    // accumulate 3070231991 (uint32) read as a negative int, and Math.max(1, ...) made it 1.
    OptimizerPipeline m = sgd().setAccumulate((int) 3070231991L).build();
    assertThatThrownBy(() -> Pipeline.fromProto(m))
        .isInstanceOf(InvalidPipelineException.class)
        .hasMessage("accumulate must be in [0, 2147483647], got 3070231991");
  }

  @Test
  void protoCosineRestartsMultOf2To64Minus1IsRefusedNotReadAsOne() {
    OptimizerPipeline m = sgd().setSchedule(Schedule.newBuilder()
        .setCosineRestarts(CosineRestarts.newBuilder().setPeriod(10).setMult(-1L))).build();
    assertThatThrownBy(() -> Pipeline.fromProto(m))
        .isInstanceOf(InvalidPipelineException.class)
        .hasMessage("schedule.cosine_restarts.mult must be in [0, 9223372036854775807], got 18446744073709551615");
  }

  @Test
  void protoWarmupOf2To63IsRefusedByItsUnsignedValue() {
    OptimizerPipeline m = sgd().setSchedule(Schedule.newBuilder().setWarmupSteps(Long.MIN_VALUE)).build();
    assertThatThrownBy(() -> Pipeline.fromProto(m))
        .isInstanceOf(InvalidPipelineException.class)
        .hasMessageContaining("schedule.warmup_steps").hasMessageContaining("9223372036854775808");
  }

  @Test
  void protoSpecVersion2To32Minus1IsNewerNotOlder() {
    OptimizerPipeline m = sgd().setSpecVersion(-1).build();
    assertThatThrownBy(() -> Pipeline.fromProto(m))
        .isInstanceOf(InvalidPipelineException.class)
        .hasMessage("spec_version 4294967295 is newer than this build reads (1)");
  }

  @Test
  void protoWith200000ParameterRulesIsRefusedAtOnce() {
    // Each rule was checked against every earlier one and the lists copied per rule: quadratic.
    OptimizerPipeline.Builder b = sgd();
    for (int i = 0; i < 200_000; i++) {
      b.addParameterRules(ParameterRule.newBuilder().setKind(ParameterRule.Kind.FREEZE).setGlob("p" + i));
    }
    OptimizerPipeline m = b.build();
    assertThatThrownBy(() -> Pipeline.fromProto(m))
        .isInstanceOf(InvalidPipelineException.class)
        .hasMessage("parameter_rules has 200000 entries; at most 1024 are allowed");
  }

  @Test
  void dslRefusesThe1025thGlob() {
    Pipeline p = Optimizers.sgd(0.1);
    for (int i = 0; i < Pipeline.MAX_PARAMETER_RULES; i++) {
      p = p.freeze("p" + i);
    }
    Pipeline full = p;
    assertThatThrownBy(() -> full.noDecay("x"))
        .isInstanceOf(InvalidPipelineException.class)
        .hasMessage("noDecay would make 1025 noDecay, freeze and lrScale globs; at most 1024 are allowed");
  }

  @Test
  void globWithManyStarsOnALongNameAnswersWithoutBacktracking() {
    // "*a" x 20 + "b" against 2000 a's: the regex form backtracked for longer than any client waits.
    String glob = "*a".repeat(20) + "b";
    String name = "a".repeat(2000);
    boolean matched = assertTimeoutPreemptively(Duration.ofSeconds(10), () -> new Glob(glob).matches(name));
    assertThat(matched).isFalse();
    assertThat(new Glob(glob).matches(name + "b")).isTrue();
    assertThat(new Glob("emb?d.*").matches("embed.weight")).isTrue();
    assertThat(new Glob("emb?d.*").matches("embd.weight")).isFalse();
  }

  @Test
  void cosineToMinLrNearDoubleMaxStaysFinite() {
    // sgd().warmup(215).cosine(1374463283923456787, 1.7976931348623157e308): lr at 1000 was -inf,
    // (lr - minLr) * (1 + cos) overflowing before the halving.
    Pipeline p = Pipeline.parse("sgd().warmup(215).cosine(1374463283923456787, 1.7976931348623157e308)");
    double lr = p.learningRate(1000);
    assertThat(lr).isFinite().isBetween(0.0, Double.MAX_VALUE);
    // tau = 785 of 1374463283923456572: p ~ 5.7e-16, so the factor is 1 and lr_t is lr = 1e-3
    // up to the rounding of minLr + (lr - minLr), i.e. 0 at this magnitude.
    assertThat(lr).isEqualTo(Double.MAX_VALUE + (1e-3 - Double.MAX_VALUE));
  }

  @Test
  void cosineFromLrAtDoubleMaxIsDoubleMaxNotInfinity() {
    // CI's campaign (input crash-887d403a...): minLr + (lr - minLr) rounded past Double.MAX_VALUE at step 0.
    Pipeline p = Pipeline.parse("sgd(1.7976931348623157e308).cosine(255, 6.062716103411431e307)");
    double lr = 1.7976931348623157e308;
    double minLr = 6.062716103411431e307;
    assertThat(minLr + (lr - minLr)).isInfinite(); // the arithmetic itself, without the guard
    assertThat(p.learningRate(0)).isEqualTo(Double.MAX_VALUE);
    assertThat(p.learningRate(255)).isEqualTo(minLr + (lr - minLr) * 0.0).isEqualTo(minLr);
    assertThat(p.learningRate(100)).isFinite().isBetween(minLr, Double.MAX_VALUE);
    assertThat(Pipeline.parse("sgd(1.7976931348623157e308).cosineRestarts(10, 2, 6.062716103411431e307)")
        .learningRate(10)).isEqualTo(Double.MAX_VALUE); // a new cycle starts from lr too
  }

  @Test
  void cosineRestartsWithMult2To62PastTheFirstCycleIsNoArithmeticException() {
    // Math.multiplyExact(period, mult) threw ArithmeticException once tau passed the first cycle.
    Pipeline p = Pipeline.parse("sgd(1.0).cosineRestarts(4, 4611686018427387904)");
    // tau 6: the second cycle (length 4 * 2^62) at 2: 1 * (1 + cos(pi * 2 / 2^64)) / 2 = 1.
    assertThat(p.learningRate(6)).isEqualTo(1.0);
    // tau 2 in the first cycle of 4: (1 + cos(pi/2)) / 2 = 0.5 (cos(pi/2) is 6.1e-17 in doubles).
    assertThat(p.learningRate(2)).isEqualTo((1 + Math.cos(Math.PI / 2)) / 2);
  }

  @Test
  void globQuestionMarkTakesOneCharacterOutsideTheBmp() {
    // GlobFuzzTest against the regex: the first linear matcher walked UTF-16 units, so "?" did
    // not match U+1F600 (a surrogate pair) while the regex's "." did.
    assertThat(new Glob("?").matches("\uD83D\uDE00")).isTrue();
    assertThat(new Glob("*\uDB7E\uDF7D").matches("\uDB7E\uDF7D")).isTrue();
    assertThat(new Glob("??").matches("\uD83D\uDE00")).isFalse();
  }
}
