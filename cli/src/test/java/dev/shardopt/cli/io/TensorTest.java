package dev.shardopt.cli.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class TensorTest {

  @Test
  void shapeMustMatchData() {
    assertThatThrownBy(() -> Tensor.of(new float[5], 2, 3))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("shape [2, 3] holds 6 elements, data has 5");
    assertThatThrownBy(() -> Tensor.of(new float[0], -1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("dimensions must be >= 0");
    assertThat(Tensor.of(new float[1]).rank()).isZero();
  }

  @Test
  void shapeIsCopied() {
    long[] shape = {2, 2};
    Tensor t = new Tensor(shape, new float[4]);
    shape[0] = 99;
    t.shape()[1] = 99;
    assertThat(t.shape()).containsExactly(2, 2);
  }

  @Test
  void rowAndStackAreInverse() {
    Tensor t = Tensor.of(new float[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, 3, 2, 2);
    Tensor r1 = t.row(1);
    assertThat(r1.shape()).containsExactly(2, 2);
    assertThat(r1.data()).containsExactly(5, 6, 7, 8);
    assertThat(r1.row(1).data()).containsExactly(7, 8);
    assertThat(Tensor.stack(List.of(t.row(0), t.row(1), t.row(2)))).isEqualTo(t);
    assertThatThrownBy(() -> t.row(3)).isInstanceOf(IndexOutOfBoundsException.class);
    assertThatThrownBy(() -> Tensor.stack(List.of(Tensor.vector(1), Tensor.vector(1, 2))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("cannot stack shape [2] onto shape [1]");
  }

  @Test
  void equalityIsByContentAndBits() {
    assertThat(Tensor.vector(1, Float.NaN)).isEqualTo(Tensor.vector(1, Float.NaN));
    assertThat(Tensor.vector(1, Float.NaN).hashCode()).isEqualTo(Tensor.vector(1, Float.NaN).hashCode());
    assertThat(Tensor.vector(0f)).isNotEqualTo(Tensor.vector(-0f));
    assertThat(Tensor.vector(1, 2, 3, 4)).isNotEqualTo(Tensor.of(new float[] {1, 2, 3, 4}, 2, 2));
    assertThat(Tensor.of(new float[] {1, 2, 3, 4}, 2, 2).toString()).isEqualTo("Tensor[2, 2]{1.0, 2.0, 3.0, 4.0}");
  }
}
