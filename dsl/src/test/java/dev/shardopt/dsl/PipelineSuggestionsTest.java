package dev.shardopt.dsl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Typos in the text form: an unknown method names the closest known one when it is close (edit
 * distance at most max(2, length/3), case ignored), and a name or keyword where a value belongs
 * says how to write it. Clients in other languages send this text and show the message as it is.
 */
class PipelineSuggestionsTest {

  private static InvalidPipelineException refused(String text) {
    InvalidPipelineException e = catchThrowableOfType(() -> Pipeline.parse(text), InvalidPipelineException.class);
    assertThat(e).as("'%s' must be refused", text).isNotNull();
    return e;
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(
      delimiter = '|',
      value = {
        // a transposition inside a pipeline modifier
        "adamw(1e-3).wramup(100)             | wramup      | warmup      | 13",
        // case only
        "sgd(0.1).clipnorm(1.0)              | clipnorm    | clipNorm    | 10",
        // a dropped letter in a rule flag
        "rmsprop(0.01).centred()             | centred     | centered    | 15",
        "adam().amsgard()                    | amsgard     | amsgrad     | 8",
        // the base rule itself
        "nesterv(0.1)                        | nesterv     | nesterov    | 1",
        "adma(1e-3)                          | adma        | adam        | 1",
        // Python's snake_case for a camelCase modifier
        "sgd().weight_decay(0.1)             | weight_decay | weightDecay | 7",
        "adagrad().lr_decay(0.01)            | lr_decay    | lrDecay     | 11",
        "sgd().lrscale(\"*.bias\", 0.1)      | lrscale     | lrScale     | 7",
        "adam(1e-3).warmup(500).cosin(1e5)   | cosin       | cosine      | 24",
        "sgd().cosineRestart(10)             | cosineRestart | cosineRestarts | 7",
      })
  void aTypoNamesTheClosestMethodAndItsColumn(String text, String typo, String meant, int column) {
    InvalidPipelineException e = refused(text);
    assertThat(e.getMessage())
        .isEqualTo("unknown method '" + typo + "' at column " + column + " — did you mean '" + meant + "'?");
    assertThat(e.column()).isEqualTo(column);
    assertThat(e.reason()).isEqualTo("unknown method '" + typo + "' — did you mean '" + meant + "'?");
  }

  @Test
  void aNameFarFromEveryMethodListsTheKnownOnesInstead() {
    InvalidPipelineException e = refused("adam().xyz(1)");
    assertThat(e.getMessage()).startsWith("unknown method 'xyz' at column 8; known: weightDecay, clipNorm, clipValue");
    assertThat(e.getMessage()).doesNotContain("did you mean").contains("beta1", "amsgrad", "lrScale");
    assertThat(refused("frobnicate(1)").getMessage()).isEqualTo(
        "unknown method 'frobnicate' at column 1; known: sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw, lion");
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(
      delimiter = '|',
      value = {
        "adam(lr=1e-3)              | keyword argument 'lr=' in adam(...): arguments are positional; write the value alone, adam(1e-3) | 6",
        "adam(1e-3, beta2=0.98)     | keyword argument 'beta2=' in adam(...): arguments are positional; set beta2 with its own modifier, .beta2(...), after adam(...) | 12",
        "sgd().cosine(total = 100)  | keyword argument 'total=' in cosine(...): arguments are positional; write the values alone, in order | 14",
        "rmsprop().centered(true)   | a flag takes no argument: write .centered() to switch it on, and leave it out for off | 20",
        "sgd().noDecay(bias)        | expected a number (Java literal syntax, e.g. 1e-3 or 100_000) or a \"glob\", got the name 'bias'; a glob is double-quoted, e.g. \"bias\" | 15",
        "sgd().clipNorm(inf)        | got 'inf': the text form has no name for infinity or NaN; write a finite number | 16",
      })
  void aNameWhereAValueBelongsSaysHowToWriteIt(String text, String reason, int column) {
    InvalidPipelineException e = refused(text);
    assertThat(e.reason()).isEqualTo(reason);
    assertThat(e.column()).isEqualTo(column);
    assertThat(e.getMessage()).isEqualTo(reason + " (at column " + column + ")");
  }

  @Test
  void editDistanceIsLevenshtein() {
    // textbook values
    assertThat(PipelineParser.distance("kitten", "sitting")).isEqualTo(3);
    assertThat(PipelineParser.distance("flaw", "lawn")).isEqualTo(2);
    assertThat(PipelineParser.distance("", "abc")).isEqualTo(3);
    assertThat(PipelineParser.distance("same", "same")).isZero();
  }

  @Test
  void methodNamesHoldEveryRuleAndModifierOnce() {
    assertThat(PipelineParser.methodNames()).doesNotHaveDuplicates()
        .startsWith("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw", "lion", "weightDecay")
        .contains("beta1", "beta2", "eps", "amsgrad", "dampening", "initialAccumulator", "lrDecay", "rho",
            "centered", "epsInsideSqrt", "lrScale", "noDecay", "freeze", "skipNonFinite")
        .hasSize(8 + 13 + 11);
  }
}
