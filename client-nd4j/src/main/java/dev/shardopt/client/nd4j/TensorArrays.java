package dev.shardopt.client.nd4j;

import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.shape.Shape;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Copies between a model tensor's values as the client holds them (one float[] in row-major, C
 * order) and an {@link INDArray} of the tensor's shape.
 *
 * <p>The rule for the values: a FLOAT array's elements are copied bit for bit, in both directions.
 * Out of another floating-point type, each element is cast to float32 by ND4J (DOUBLE: IEEE round
 * to nearest even; HALF and BFLOAT16: exact widening); into one, each float32 is cast to the
 * target's type (exact for DOUBLE). A dense C-order FLOAT array that owns its whole buffer is copied
 * in one pass between the Java array and its native buffer; any other layout (a view, F order,
 * another data type) goes through one more copy in C order.
 */
public final class TensorArrays {
  private TensorArrays() {}

  /**
   * The elements of {@code array} in row-major order as float32, after checking that it has
   * {@code shape}.
   *
   * @param what names the array in the error, e.g. "the gradient of tensor 'w'"
   * @throws IllegalArgumentException when the array is null, has another shape or is not of a
   *     floating-point type
   */
  public static float[] toFloats(String what, INDArray array, long[] shape) {
    checkShape(what, array, shape);
    return toFloats(what, array);
  }

  /** The elements of {@code array} in row-major order as float32, whatever its shape. */
  public static float[] toFloats(String what, INDArray array) {
    checkFloatingPoint(what, array);
    if (ownsDenseFloatBuffer(array)) {
      return array.data().asFloat();
    }
    INDArray packed = array.dataType() == DataType.FLOAT ? array.dup('c') : array.castTo(DataType.FLOAT).dup('c');
    return packed.data().asFloat();
  }

  /** A new FLOAT array of {@code shape} holding {@code values} (row-major). */
  public static INDArray fromFloats(String what, float[] values, long[] shape) {
    checkLength(what, values, shape);
    return Nd4j.create(values, shape.clone(), 'c');
  }

  /**
   * Writes {@code values} (row-major) into {@code target}, which must have {@code shape} and a
   * floating-point type; the target keeps its identity, data type and layout.
   */
  public static void copyInto(String what, float[] values, INDArray target, long[] shape) {
    checkShape(what, target, shape);
    checkFloatingPoint(what, target);
    checkLength(what, values, shape);
    if (ownsDenseFloatBuffer(target)) {
      target.data().setData(values);
    } else {
      target.assign(Nd4j.create(values, shape.clone(), 'c'));
    }
  }

  /** Checks {@link #copyInto}'s conditions on {@code target} without writing. */
  static void checkTarget(String what, INDArray target, long[] shape) {
    checkShape(what, target, shape);
    checkFloatingPoint(what, target);
  }

  /**
   * True when the array's elements are exactly its buffer, in C order, as float32: then the buffer
   * can be read or written as one float[] with no packing.
   */
  static boolean ownsDenseFloatBuffer(INDArray a) {
    return a.dataType() == DataType.FLOAT
        && !a.isView()
        && a.ordering() == 'c'
        && a.data().offset() == 0
        && a.data().length() == a.length()
        && (a.rank() == 0 || Shape.hasDefaultStridesForShape(a));
  }

  static void checkShape(String what, INDArray array, long[] shape) {
    if (array == null) {
      throw new IllegalArgumentException(what + " is null, expected an array of shape " + Arrays.toString(shape));
    }
    if (!Arrays.equals(array.shape(), shape)) {
      throw new IllegalArgumentException(what + " has shape " + Arrays.toString(array.shape())
          + ", expected the model's shape " + Arrays.toString(shape));
    }
  }

  private static void checkFloatingPoint(String what, INDArray array) {
    if (!array.dataType().isFPType()) {
      throw new IllegalArgumentException(what + " has data type " + array.dataType()
          + "; allowed: FLOAT (copied exactly), DOUBLE, HALF, BFLOAT16 (rounded to float32)");
    }
  }

  private static void checkLength(String what, float[] values, long[] shape) {
    long want = 1;
    for (long d : shape) {
      want *= d;
    }
    if (values == null || values.length != want) {
      throw new IllegalArgumentException(what + " has " + (values == null ? "no" : values.length)
          + " values, expected " + want + " for shape " + Arrays.toString(shape));
    }
  }
}
