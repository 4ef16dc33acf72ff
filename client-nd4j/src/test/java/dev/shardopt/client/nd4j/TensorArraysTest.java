package dev.shardopt.client.nd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/** Conversions between row-major float[] and INDArrays of every layout; values written by hand. */
class TensorArraysTest {
  private static final long[] SHAPE = {2, 3};
  /** Row-major [[1, 2, 3], [4, 5, 6]] with a -0.0, a NaN payload-free NaN and a subnormal. */
  private static final float[] ROWS = {1f, -0.0f, 3.5f, Float.NaN, Float.MIN_VALUE, -6.25f};

  @Test
  void aDenseCOrderFloatArrayGivesItsElementsBitForBit() {
    INDArray a = Nd4j.create(ROWS.clone(), SHAPE, 'c');
    assertThat(TensorArrays.ownsDenseFloatBuffer(a)).isTrue();
    assertThat(bits(TensorArrays.toFloats("a", a, SHAPE))).containsExactly(bits(ROWS));
  }

  @Test
  void anFOrderArrayIsReadInRowMajorOrder() {
    INDArray f = Nd4j.create(DataType.FLOAT, SHAPE, 'f');
    for (int r = 0; r < 2; r++) {
      for (int c = 0; c < 3; c++) {
        f.putScalar(r, c, r * 10 + c);
      }
    }
    assertThat(TensorArrays.ownsDenseFloatBuffer(f)).isFalse();
    assertThat(TensorArrays.toFloats("f", f, SHAPE)).containsExactly(0f, 1f, 2f, 10f, 11f, 12f);
  }

  @Test
  void aViewIsReadAsItsOwnElements() {
    INDArray big = Nd4j.create(new float[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, new long[] {4, 3}, 'c');
    INDArray rows12 = big.get(NDArrayIndex.interval(1, 3), NDArrayIndex.all());
    assertThat(TensorArrays.ownsDenseFloatBuffer(rows12)).isFalse();
    assertThat(TensorArrays.toFloats("v", rows12, SHAPE)).containsExactly(3f, 4f, 5f, 6f, 7f, 8f);
    INDArray column = big.get(NDArrayIndex.all(), NDArrayIndex.point(1));
    assertThat(TensorArrays.toFloats("c", column, new long[] {4})).containsExactly(1f, 4f, 7f, 10f);
  }

  @Test
  void aDoubleArrayIsRoundedToFloat32() {
    double third = 1.0 / 3.0;
    INDArray d = Nd4j.createFromArray(new double[] {third, 1e-50, 1e300, -2.5});
    assertThat(TensorArrays.toFloats("d", d, new long[] {4}))
        .containsExactly((float) third, 0f, Float.POSITIVE_INFINITY, -2.5f);
  }

  @Test
  void fromFloatsMakesARowMajorFloatArrayOfTheShape() {
    INDArray a = TensorArrays.fromFloats("a", ROWS, SHAPE);
    assertThat(a.dataType()).isEqualTo(DataType.FLOAT);
    assertThat(a.shape()).containsExactly(2, 3);
    assertThat(a.getFloat(0, 2)).isEqualTo(3.5f);
    assertThat(a.getFloat(1, 2)).isEqualTo(-6.25f);
    assertThat(Float.floatToRawIntBits(a.getFloat(0, 1))).isEqualTo(Float.floatToRawIntBits(-0.0f));
    INDArray scalar = TensorArrays.fromFloats("s", new float[] {7f}, new long[0]);
    assertThat(scalar.rank()).isZero();
    assertThat(scalar.getFloat(0)).isEqualTo(7f);
  }

  @Test
  void copyIntoWritesTheCallersDenseArrayInPlace() {
    INDArray target = Nd4j.zeros(DataType.FLOAT, 2, 3);
    INDArray sameObject = target;
    TensorArrays.copyInto("t", ROWS, target, SHAPE);
    assertThat(target).isSameAs(sameObject);
    assertThat(bits(target.data().asFloat())).containsExactly(bits(ROWS));
  }

  @Test
  void copyIntoAViewWritesOnlyTheViewsElements() {
    INDArray big = Nd4j.zeros(DataType.FLOAT, 4, 3);
    INDArray rows12 = big.get(NDArrayIndex.interval(1, 3), NDArrayIndex.all());
    TensorArrays.copyInto("v", new float[] {1, 2, 3, 4, 5, 6}, rows12, SHAPE);
    assertThat(big.data().asFloat()).containsExactly(0, 0, 0, 1, 2, 3, 4, 5, 6, 0, 0, 0);
  }

  @Test
  void copyIntoAnFOrderOrDoubleArrayKeepsItsLayoutAndType() {
    INDArray f = Nd4j.create(DataType.FLOAT, SHAPE, 'f');
    TensorArrays.copyInto("f", new float[] {1, 2, 3, 4, 5, 6}, f, SHAPE);
    assertThat(f.ordering()).isEqualTo('f');
    assertThat(f.getFloat(0, 1)).isEqualTo(2f);
    assertThat(f.getFloat(1, 0)).isEqualTo(4f);
    // F order in memory: column by column
    assertThat(f.data().asFloat()).containsExactly(1, 4, 2, 5, 3, 6);

    INDArray d = Nd4j.zeros(DataType.DOUBLE, 2, 3);
    TensorArrays.copyInto("d", new float[] {0.1f, 2, 3, 4, 5, 6}, d, SHAPE);
    assertThat(d.dataType()).isEqualTo(DataType.DOUBLE);
    assertThat(d.getDouble(0, 0)).isEqualTo((double) 0.1f);
  }

  @Test
  void aWrongShapeIsRefusedNamingTheArrayAndBothShapes() {
    INDArray t = Nd4j.zeros(DataType.FLOAT, 3, 2);
    assertThatThrownBy(() -> TensorArrays.toFloats("the gradient of tensor 'w'", t, SHAPE))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("the gradient of tensor 'w' has shape [3, 2], expected the model's shape [2, 3]");
    assertThatThrownBy(() -> TensorArrays.copyInto("target 'w'", ROWS, t, SHAPE))
        .hasMessage("target 'w' has shape [3, 2], expected the model's shape [2, 3]");
    assertThat(t.sumNumber().doubleValue()).isZero();
    assertThatThrownBy(() -> TensorArrays.toFloats("x", null, SHAPE))
        .hasMessage("x is null, expected an array of shape [2, 3]");
  }

  @Test
  void anIntegerArrayIsRefusedWithTheAllowedTypes() {
    INDArray ints = Nd4j.createFromArray(new int[] {1, 2, 3});
    assertThatThrownBy(() -> TensorArrays.toFloats("the gradient of tensor 'b'", ints, new long[] {3}))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("the gradient of tensor 'b' has data type INT; allowed: FLOAT");
  }

  @Test
  void aWrongNumberOfValuesIsRefused() {
    assertThatThrownBy(() -> TensorArrays.fromFloats("tensor 'w'", new float[5], SHAPE))
        .hasMessage("tensor 'w' has 5 values, expected 6 for shape [2, 3]");
  }

  private static int[] bits(float[] v) {
    int[] b = new int[v.length];
    for (int i = 0; i < v.length; i++) {
      b[i] = Float.floatToRawIntBits(v[i]);
    }
    return b;
  }
}
