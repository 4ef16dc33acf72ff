package dev.shardopt.dsl;

import static dev.shardopt.dsl.Optimizers.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PipelineValidationTest {

  private static InvalidPipelineException parseError(String text) {
    try {
      Pipeline.parse(text);
    } catch (InvalidPipelineException e) {
      return e;
    }
    throw new AssertionError("expected '" + text + "' to be refused");
  }

  @Test
  void outOfRangeNamesFieldValueAndAllowedRange() {
    InvalidPipelineException e = parseError("adam(1e-3).beta2(1.5)");
    assertThat(e.reason()).isEqualTo("beta2 must be in [0, 1), got 1.5");
    assertThat(e.column()).isEqualTo(12);
    assertThat(e.getMessage()).isEqualTo("beta2 must be in [0, 1), got 1.5 (at column 12)");
    assertThatThrownBy(() -> adam(1e-3).beta2(1.5))
        .isInstanceOf(InvalidPipelineException.class)
        .hasMessage("beta2 must be in [0, 1), got 1.5");
  }

  @Test
  void wrongRuleSaysWhoTakesItAndWhatTheRuleTakes() {
    assertThat(parseError("adam().rho(0.9)").reason())
        .isEqualTo("rho applies to rmsprop; adam takes beta1, beta2, eps, amsgrad");
    assertThat(parseError("sgd().beta(0.9)").reason())
        .isEqualTo("beta applies to momentum and nesterov; sgd takes no hyperparameters besides lr");
    assertThat(parseError("lion().eps(1e-8)").reason())
        .isEqualTo("eps applies to adagrad, rmsprop, adam and adamw; lion takes beta1, beta2");
    assertThat(parseError("momentum().amsgrad()").column()).isEqualTo(12);
  }

  @Test
  void duplicatesAreRefused() {
    assertThat(parseError("sgd().cosine(10).stepDecay(5)").reason())
        .isEqualTo("a second decay schedule (stepDecay) after cosine is not allowed");
    assertThat(parseError("sgd().cosine(10).stepDecay(5)").column()).isEqualTo(18);
    assertThat(parseError("sgd().clipNorm(1).clipNorm(2)").reason())
        .isEqualTo("a second clipNorm after clipNorm(1.0) is not allowed");
    assertThat(parseError("adam().beta1(0.8).beta1(0.7)").reason())
        .isEqualTo("a second beta1 after beta1(0.8) is not allowed");
    assertThat(parseError("adam().amsgrad().amsgrad()").reason()).isEqualTo("a second amsgrad() is not allowed");
    assertThat(parseError("sgd().noDecay(\"*.bias\", \"*.bias\")").reason())
        .isEqualTo("noDecay glob \"*.bias\" is given twice; give each glob once");
    assertThat(parseError("sgd(0.1).adam()").reason())
        .isEqualTo("a pipeline has exactly one base rule, and it comes first; adam after sgd is not allowed");
    assertThatThrownBy(() -> sgd().warmup(5).warmup(6))
        .hasMessage("a second warmup after warmup(5) is not allowed");
  }

  @Test
  void unknownNamesSuggestTheClosest() {
    InvalidPipelineException e = parseError("adam(1e-3).warmup(500).cosin(1e5)");
    assertThat(e.getMessage()).isEqualTo("unknown method 'cosin' at column 24 — did you mean 'cosine'?");
    assertThat(e.column()).isEqualTo(24);
    assertThat(parseError("adma(1e-3)").getMessage())
        .isEqualTo("unknown method 'adma' at column 1 — did you mean 'adam'?");
    assertThat(parseError("adam().bta2(0.9)").getMessage()).contains("did you mean 'beta2'?");
    assertThat(parseError("adam().frobnicate(1)").getMessage()).startsWith(
        "unknown method 'frobnicate' at column 8; known: weightDecay, clipNorm");
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "''                              | empty pipeline; start with a base rule: sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw, lion | 1",
        "warmup(5)                       | a pipeline starts with its base rule (sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw, lion), got 'warmup' | 1",
        "adam(1e-3                       | missing ')' to close adam( | 10",
        "adam(1e-3) warmup(5)            | expected '.' before the next modifier, got 'w' | 12",
        "adam(1e-3).warmup()             | warmup takes (steps), got 0 arguments | 12",
        "adam(1e-3).cosine(1, 2, 3)      | cosine takes (totalSteps[, minLr]), got 3 arguments | 12",
        "adam(\"x\")                     | adam expects a number for lr, got the string \"x\" | 6",
        "sgd().noDecay(1)                | noDecay expects a double-quoted string for glob, got 1.0 | 15",
        "sgd().noDecay(\"*.bias)         | unterminated string: a closing '\"' is missing | 15",
        "sgd().warmup(1.5)               | warmup must be a whole number of steps, got 1.5 | 7",
        "sgd().warmup(0)                 | warmup must be in [1, inf), got 0 | 7",
        "sgd(-1)                         | lr must be in [0, inf) and finite, got -1.0 | 1",
        "sgd(1e-3x)                      | malformed number '1e-3x...' | 5",
        "sgd()._warmup(5)                | unknown method '_warmup' — did you mean 'warmup'? | 7",
        "sgd().clipNorm(0)               | clipNorm must be in (0, inf) and finite, got 0.0 | 7",
        "sgd().stepDecay(10, 1.5)        | gamma must be in (0, 1], got 1.5 | 7",
        "momentum().dampening(2)         | dampening must be in [0, 1], got 2.0 | 12",
        "sgd().warmup(500).cosine(100)   | cosine totalSteps must be greater than warmup, got cosine(100) with warmup(500): totalSteps counts the warmup steps | 19",
        "sgd().cosineRestarts(8, 1.5)    | mult must be a whole number of steps, got 1.5 | 7",
        "sgd().accumulate(0)             | accumulate must be in [1, inf), got 0 | 7",
        "sgd().lrScale(\"*\", -1)        | lrScale factor must be in [0, inf) and finite, got -1.0 | 7",
        "sgd().noDecay(\"\")             | a glob must not be empty; use \"*\" to match every parameter | 7",
      })
  void parseErrorsSayWhatAndWhere(String text, String reason, Integer column) {
    InvalidPipelineException e = parseError(text);
    assertThat(e.reason()).isEqualTo(reason);
    assertThat(e.column()).isEqualTo(column);
  }

  @Test
  void invalidCallsLeaveTheReceiverUsable() {
    Pipeline p = sgd(0.1).clipNorm(1.0);
    assertThatThrownBy(() -> p.clipNorm(2.0)).isInstanceOf(InvalidPipelineException.class);
    assertThatThrownBy(() -> p.weightDecay(-1)).hasMessage("weightDecay must be in [0, inf) and finite, got -1.0");
    assertThat(p.toString()).isEqualTo("sgd(0.1).clipNorm(1.0)");
    assertThat(p.weightDecay(0.1).toString()).isEqualTo("sgd(0.1).clipNorm(1.0).weightDecay(0.1)");
  }

  @Test
  void parameterSettingsResolveGlobs() {
    Pipeline p = adamw(0.01).weightDecay(0.1).noDecay("*.bias", "norm.*").freeze("embed.*")
        .lrScale("head.*", 0.1);
    assertThat(p.settingsFor("layer.0.weight")).isEqualTo(new ParameterSettings(false, 0.1, 1.0));
    assertThat(p.settingsFor("layer.0.bias")).isEqualTo(new ParameterSettings(false, 0.0, 1.0));
    assertThat(p.settingsFor("norm.scale")).isEqualTo(new ParameterSettings(false, 0.0, 1.0));
    assertThat(p.settingsFor("embed.weight").frozen()).isTrue();
    assertThat(p.settingsFor("head.weight")).isEqualTo(new ParameterSettings(false, 0.1, 0.1));
    assertThat(p.settingsFor("head.bias")).isEqualTo(new ParameterSettings(false, 0.0, 0.1));
    assertThatThrownBy(() -> sgd().lrScale("head.*", 0.1).lrScale("*.weight", 2).settingsFor("head.weight"))
        .hasMessage("parameter 'head.weight' matches two lrScale globs, \"head.*\" and \"*.weight\"; "
            + "a parameter takes at most one lrScale");
  }

  @Test
  void globsMatchDotsWithStarAndOneCharWithQuestionMark() {
    assertThat(new Glob("*.bias").matches("encoder.layer.3.bias")).isTrue();
    assertThat(new Glob("*.bias").matches("bias")).isFalse();
    assertThat(new Glob("*norm*").matches("layer_norm.weight")).isTrue();
    assertThat(new Glob("w?").matches("w1")).isTrue();
    assertThat(new Glob("w?").matches("w12")).isFalse();
    assertThat(new Glob("a.b").matches("aXb")).as("dot is literal").isFalse();
    assertThat(new Glob("(x)+[y]").matches("(x)+[y]")).as("regex characters are literal").isTrue();
  }
}
