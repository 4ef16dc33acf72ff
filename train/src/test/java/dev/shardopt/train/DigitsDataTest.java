package dev.shardopt.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class DigitsDataTest {

  @Test
  void loadsTheShippedDataFromTheClasspath() {
    DigitsData d = DigitsData.load();
    assertThat(d.size()).isEqualTo(1797);
    int[] counts = new int[10];
    for (int y : d.labels()) {
      counts[y]++;
    }
    for (int c : counts) {
      assertThat(c).isBetween(174, 183);
    }
    float[] x = d.features(IntStream.range(0, d.size()).toArray());
    assertThat(x).hasSize(1797 * 64);
    float max = 0;
    for (float v : x) {
      assertThat(v).isBetween(0f, 1f);
      max = Math.max(max, v);
    }
    assertThat(max).isEqualTo(1f); // 16/16
    // the first row of the file: 0,0,5,13,9,1,... label 0
    assertThat(d.label(0)).isZero();
    assertThat(d.features(new int[] {0})[2]).isEqualTo(5 / 16f);
  }

  @Test
  void refusesMalformedRows() {
    String row = "0,".repeat(64);
    assertThatThrownBy(() -> parse(row + "10")).hasMessageContaining("label 10 is not in 0..9");
    assertThatThrownBy(() -> parse("0,".repeat(63) + "1")).hasMessageContaining("expected 65 values, got 64");
    assertThatThrownBy(() -> parse("17," + "0,".repeat(63) + "1")).hasMessageContaining("pixel 0 is 17");
    assertThatThrownBy(() -> parse("x," + "0,".repeat(63) + "1")).hasMessageContaining("'x' is not an integer");
    assertThatThrownBy(() -> parse("\n")).hasMessageContaining("has no rows");
  }

  private static DigitsData parse(String text) throws java.io.IOException {
    return DigitsData.parse(new ByteArrayInputStream(text.getBytes(StandardCharsets.US_ASCII)), "test.csv");
  }
}
