package dev.shardopt.train;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class StratifiedSplitTest {
  private final int[] labels = DigitsData.load().labels();

  @Test
  void everyClassKeepsItsShareInTheTestSet() {
    StratifiedSplit s = StratifiedSplit.of(labels, 0.2, 42);
    int[] all = new int[10];
    int[] test = new int[10];
    for (int y : labels) {
      all[y]++;
    }
    for (int i : s.test()) {
      test[labels[i]]++;
    }
    for (int c = 0; c < 10; c++) {
      assertThat(test[c]).as("class %d", c).isEqualTo((int) Math.round(all[c] * 0.2));
    }
    assertThat(s.test()).hasSize(359);
    assertThat(s.train()).hasSize(1797 - 359);
  }

  @Test
  void partitionsTheRows() {
    StratifiedSplit s = StratifiedSplit.of(labels, 0.2, 42);
    Set<Integer> seen = new HashSet<>();
    for (int i : s.train()) {
      assertThat(seen.add(i)).isTrue();
    }
    for (int i : s.test()) {
      assertThat(seen.add(i)).as("row %d in both parts", i).isTrue();
    }
    assertThat(seen).hasSize(labels.length);
    assertThat(s.train()).isSorted();
    assertThat(s.test()).isSorted();
  }

  @Test
  void isDeterministicPerSeed() {
    assertThat(StratifiedSplit.of(labels, 0.2, 42)).isEqualTo(StratifiedSplit.of(labels, 0.2, 42));
    assertThat(StratifiedSplit.of(labels, 0.2, 42).test()).isNotEqualTo(StratifiedSplit.of(labels, 0.2, 43).test());
    // a fixed split: pins the shuffle, so a change to it (and to every reported accuracy) is noticed
    assertThat(Arrays.stream(StratifiedSplit.of(labels, 0.2, 42).test()).limit(5).toArray())
        .containsExactly(9, 13, 24, 27, 29);
  }
}
