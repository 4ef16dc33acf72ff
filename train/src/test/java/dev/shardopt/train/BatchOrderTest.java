package dev.shardopt.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class BatchOrderTest {
  private final int[] rows = IntStream.range(100, 150).toArray(); // 50 rows

  @Test
  void eachEpochVisitsEveryRowOnce() {
    BatchOrder o = new BatchOrder(rows, 10, 7);
    for (int epoch = 0; epoch < 3; epoch++) {
      int[] seen = new int[0];
      for (int s = 0; s < 5; s++) {
        int[] b = o.batch(epoch * 5L + s);
        int[] grown = Arrays.copyOf(seen, seen.length + b.length);
        System.arraycopy(b, 0, grown, seen.length, b.length);
        seen = grown;
      }
      assertThat(Arrays.stream(seen).sorted().toArray()).isEqualTo(rows);
    }
    assertThat(o.batch(0)).isNotEqualTo(o.batch(5)); // reshuffled per epoch
  }

  @Test
  void batchesSpanEpochBoundaries() {
    BatchOrder o = new BatchOrder(rows, 16, 7); // 50 is not a multiple of 16
    int[] stream = IntStream.range(0, 8).flatMap(s -> Arrays.stream(o.batch(s))).toArray();
    assertThat(Arrays.stream(stream, 0, 50).sorted().toArray()).isEqualTo(rows);
    assertThat(Arrays.stream(stream, 50, 100).sorted().toArray()).isEqualTo(rows);
  }

  @Test
  void slicesPartitionTheBatch() {
    BatchOrder o = new BatchOrder(rows, 12, 1);
    for (int k : new int[] {1, 2, 3, 4}) {
      int[] joined = IntStream.range(0, k).flatMap(r -> Arrays.stream(o.slice(3, r, k))).sorted().toArray();
      assertThat(joined).isEqualTo(Arrays.stream(o.batch(3)).sorted().toArray());
    }
    assertThat(o.slice(3, 1, 2)).containsExactly(
        o.batch(3)[1], o.batch(3)[3], o.batch(3)[5], o.batch(3)[7], o.batch(3)[9], o.batch(3)[11]);
  }

  @Test
  void isAFunctionOfTheSeedAndStep() {
    assertThat(new BatchOrder(rows, 10, 7).batch(12)).isEqualTo(new BatchOrder(rows, 10, 7).batch(12));
    assertThat(new BatchOrder(rows, 10, 7).batch(12)).isNotEqualTo(new BatchOrder(rows, 10, 8).batch(12));
  }

  @Test
  void checksItsArguments() {
    assertThatThrownBy(() -> new BatchOrder(rows, 51, 1)).hasMessageContaining("batch must be in [1, 50]");
    assertThatThrownBy(() -> new BatchOrder(rows, 10, 1).slice(0, 2, 2)).hasMessageContaining("rank must be in [0, 2)");
  }
}
