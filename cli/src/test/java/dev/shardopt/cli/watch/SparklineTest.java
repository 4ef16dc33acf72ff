package dev.shardopt.cli.watch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class SparklineTest {

  @Test
  void spreadsTheFiniteRangeOverTheEightLevels() {
    // lo 1, hi 9: (v - 1) / 8 * 8 = v - 1, so 1..8 take levels 0..7 and 9 is clamped to 7
    assertThat(Sparkline.BLOCKS.render(List.of(1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0), 20)).isEqualTo("▁▂▃▄▅▆▇██");
    // lo 0, hi 1: 0.5 * 8 = 4 -> level 4; 0.49 * 8 = 3.92 -> 3
    assertThat(Sparkline.ASCII.render(List.of(0.0, 0.49, 0.5, 1.0), 20)).isEqualTo("_-=#");
  }

  @Test
  void showsTheLastWidthValuesAndMarksNonFiniteOnes() {
    List<Double> values = List.of(100.0, 2.0, Double.NaN, 4.0, Double.POSITIVE_INFINITY, 6.0);
    // the last 5: 2, NaN, 4, inf, 6; the finite ones span [2, 6]: 4 -> 0.5 * 8 = level 4
    assertThat(Sparkline.BLOCKS.render(values, 5)).isEqualTo("▁!▅!█");
    assertThat(Sparkline.BLOCKS.render(values, 0)).isEmpty();
  }

  @Test
  void aFlatSeriesSitsOnTheLowestLevel() {
    assertThat(Sparkline.BLOCKS.render(List.of(0.01, 0.01, 0.01), 8)).isEqualTo("▁▁▁");
    assertThat(Sparkline.BLOCKS.render(List.of(Double.NaN), 8)).isEqualTo("!");
    assertThat(Sparkline.BLOCKS.render(List.of(), 8)).isEmpty();
  }

  @Test
  void needsTwoLevels() {
    assertThatThrownBy(() -> new Sparkline("#", '!')).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("a sparkline needs at least 2 levels, got \"#\"");
  }
}
