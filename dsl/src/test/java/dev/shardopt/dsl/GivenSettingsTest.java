package dev.shardopt.dsl;

import static dev.shardopt.dsl.Optimizers.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A setting counts as given when its value differs from the default, so a pipeline and its text,
 * proto and JSON forms refuse, or allow, a second setting alike.
 */
class GivenSettingsTest {

  /** The pipeline as built in Java, and as read back from each of its forms. */
  private static List<Pipeline> forms(Pipeline p) {
    return List.of(p, Pipeline.parse(p.toString()), Pipeline.fromProto(p.toProto()), Pipeline.fromJson(p.toJson()));
  }

  private static Arguments row(Pipeline p, UnaryOperator<Pipeline> second, String outcome) {
    return Arguments.of(p, second, outcome);
  }

  static Stream<Arguments> given() {
    return Stream.of(
        row(adam().beta1(0.8), q -> ((AdamPipeline) q).beta1(0.7),
            "a second beta1 after beta1(0.8) is not allowed"),
        row(adagrad().initialAccumulator(0.1), q -> ((AdagradPipeline) q).initialAccumulator(0.2),
            "a second initialAccumulator after initialAccumulator(0.1) is not allowed"),
        row(rmsprop().centered(), q -> ((RmspropPipeline) q).centered(), "a second centered() is not allowed"),
        row(sgd().warmup(5), q -> q.warmup(6), "a second warmup after warmup(5) is not allowed"),
        row(sgd().cosine(10), q -> q.stepDecay(5),
            "a second decay schedule (stepDecay) after cosine is not allowed"),
        row(sgd().clipValue(0.5), q -> q.clipValue(1), "a second clipValue after clipValue(0.5) is not allowed"),
        row(sgd().clipNorm(1), q -> q.clipNorm(2), "a second clipNorm after clipNorm(1.0) is not allowed"),
        row(sgd().weightDecay(0.1), q -> q.weightDecay(0.2),
            "a second weightDecay after weightDecay(0.1) is not allowed"),
        row(adamw().weightDecay(0.0), q -> q.weightDecay(0.2),
            "a second weightDecay after weightDecay(0.0) is not allowed"),
        row(sgd().accumulate(4), q -> q.accumulate(2), "a second accumulate after accumulate(4) is not allowed"),
        row(sgd().skipNonFinite(), Pipeline::skipNonFinite,
            "a second skipNonFinite after skipNonFinite() is not allowed"));
  }

  @ParameterizedTest
  @MethodSource("given")
  void aGivenSettingRefusesASecondInEveryForm(Pipeline p, UnaryOperator<Pipeline> second, String message) {
    for (Pipeline form : forms(p)) {
      assertThat(form).isEqualTo(p);
      assertThat(form.getClass()).isEqualTo(p.getClass());
      assertThatThrownBy(() -> second.apply(form))
          .isInstanceOf(InvalidPipelineException.class)
          .hasMessage(message);
    }
  }

  static Stream<Arguments> atDefault() {
    return Stream.of(
        row(adam().beta1(0.9), q -> ((AdamPipeline) q).beta1(0.7), "adam().beta1(0.7)"),
        row(nesterov().beta(0.9), q -> ((NesterovPipeline) q).beta(0.5), "nesterov().beta(0.5)"),
        row(sgd().weightDecay(0.0), q -> q.weightDecay(0.2), "sgd().weightDecay(0.2)"),
        row(adamw().weightDecay(0.01), q -> q.weightDecay(0.2), "adamw().weightDecay(0.2)"),
        row(sgd().accumulate(1), q -> q.accumulate(2), "sgd().accumulate(2)"));
  }

  @ParameterizedTest
  @MethodSource("atDefault")
  void aSettingAtItsDefaultIsNotGivenInAnyForm(Pipeline p, UnaryOperator<Pipeline> second, String expected) {
    for (Pipeline form : forms(p)) {
      assertThat(second.apply(form).toString()).isEqualTo(expected);
    }
  }

  /** The parser calls the same modifiers, so text with two settings follows the same rule. */
  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "adam().beta1(0.8).beta1(0.7)         | a second beta1 after beta1(0.8) is not allowed",
        "rmsprop().centered().centered()       | a second centered() is not allowed",
        "sgd().warmup(5).warmup(6)             | a second warmup after warmup(5) is not allowed",
        "adamw().weightDecay(0.0).weightDecay(0.2) | a second weightDecay after weightDecay(0.0) is not allowed",
        "adam().beta1(0.9).beta1(0.7)          | adam().beta1(0.7)",
        "adamw().weightDecay(0.01).weightDecay(0.2) | adamw().weightDecay(0.2)",
        "sgd().accumulate(1).accumulate(2)     | sgd().accumulate(2)",
      })
  void textWithTwoSettingsFollowsTheSameRule(String text, String outcome) {
    String actual;
    try {
      actual = Pipeline.parse(text).toString();
    } catch (InvalidPipelineException e) {
      actual = e.reason();
    }
    assertThat(actual).isEqualTo(outcome);
  }
}
