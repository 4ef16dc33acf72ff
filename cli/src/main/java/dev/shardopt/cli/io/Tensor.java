package dev.shardopt.cli.io;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * A dense float32 tensor in C (row-major) order, as read from or written to an {@code .npy} / {@code .npz}
 * file. The name of a tensor is its key in the map that {@link TensorFiles} reads and writes.
 *
 * <p>{@code shape} is copied; {@code data} is <em>not</em> copied (tensors can be large), so a caller that
 * mutates the array it passed in mutates the tensor. {@link #equals} and {@link #hashCode} compare contents
 * (shape, and data bit for bit, so NaN equals the same NaN).
 *
 * @param shape the dimensions, each {@code >= 0}; an empty shape is a scalar (one element)
 * @param data  the elements in C order; its length is the product of {@code shape}
 */
public record Tensor(long[] shape, float[] data) {

  public Tensor {
    Objects.requireNonNull(shape, "shape");
    Objects.requireNonNull(data, "data");
    shape = shape.clone();
    long n = elementCount(shape);
    if (n < 0) {
      throw new IllegalArgumentException("invalid shape " + shapeString(shape) + ": dimensions must be >= 0");
    }
    if (n != data.length) {
      throw new IllegalArgumentException(
          "shape " + shapeString(shape) + " holds " + n + " elements, data has " + data.length);
    }
  }

  /** A tensor of the given data and shape, e.g. {@code Tensor.of(data, 30, 512)}. */
  public static Tensor of(float[] data, long... shape) {
    return new Tensor(shape, data);
  }

  /** A 1-D tensor holding {@code data}. */
  public static Tensor vector(float... data) {
    return new Tensor(new long[] {data.length}, data);
  }

  /** The shape (a copy). */
  @Override
  public long[] shape() {
    return shape.clone();
  }

  /** The number of dimensions. */
  public int rank() {
    return shape.length;
  }

  /** The size of dimension {@code axis}. */
  public long dim(int axis) {
    return shape[axis];
  }

  /** The number of elements ({@code data().length}). */
  public int size() {
    return data.length;
  }

  /**
   * The sub-tensor at {@code index} of the first axis: shape {@code shape[1:]}, data copied. For a gradient
   * file of shape {@code [T, *s]} this is the gradient of push {@code index}.
   */
  public Tensor row(int index) {
    if (shape.length == 0) {
      throw new IllegalArgumentException("a scalar has no rows");
    }
    Objects.checkIndex(index, (int) shape[0]);
    long[] sub = Arrays.copyOfRange(shape, 1, shape.length);
    int len = Math.toIntExact(elementCount(sub));
    return new Tensor(sub, Arrays.copyOfRange(data, index * len, index * len + len));
  }

  /**
   * Stacks tensors of one shape {@code s} along a new first axis: the result has shape {@code [n, *s]}.
   * The inverse of {@link #row}.
   */
  public static Tensor stack(List<Tensor> rows) {
    if (rows.isEmpty()) {
      throw new IllegalArgumentException("cannot stack zero tensors (the row shape is unknown)");
    }
    long[] s = rows.get(0).shape;
    int len = rows.get(0).data.length;
    long total = (long) len * rows.size();
    if (total > TensorFiles.MAX_ELEMENTS) {
      throw new IllegalArgumentException("stacked tensor too large: " + total + " elements");
    }
    float[] out = new float[(int) total];
    for (int i = 0; i < rows.size(); i++) {
      Tensor r = rows.get(i);
      if (!Arrays.equals(r.shape, s)) {
        throw new IllegalArgumentException(
            "cannot stack shape " + shapeString(r.shape) + " onto shape " + shapeString(s) + " (row " + i + ")");
      }
      System.arraycopy(r.data, 0, out, i * len, len);
    }
    long[] shape = new long[s.length + 1];
    shape[0] = rows.size();
    System.arraycopy(s, 0, shape, 1, s.length);
    return new Tensor(shape, out);
  }

  /**
   * The product of the dimensions, or -1 when a dimension is negative or the product exceeds
   * {@link Long#MAX_VALUE}.
   */
  static long elementCount(long[] shape) {
    long n = 1;
    for (long d : shape) {
      if (d < 0) {
        return -1;
      }
      if (d != 0 && n > Long.MAX_VALUE / d) {
        return -1;
      }
      n *= d;
    }
    return n;
  }

  /** {@code [30, 512]}; {@code []} for a scalar. */
  public static String shapeString(long[] shape) {
    return Arrays.toString(shape);
  }

  @Override
  public boolean equals(Object o) {
    if (this == o) {
      return true;
    }
    if (!(o instanceof Tensor t)) {
      return false;
    }
    if (!Arrays.equals(shape, t.shape) || data.length != t.data.length) {
      return false;
    }
    for (int i = 0; i < data.length; i++) {
      if (Float.floatToRawIntBits(data[i]) != Float.floatToRawIntBits(t.data[i])) {
        return false;
      }
    }
    return true;
  }

  @Override
  public int hashCode() {
    int h = Arrays.hashCode(shape);
    for (float v : data) {
      h = 31 * h + Float.floatToRawIntBits(v);
    }
    return h;
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder("Tensor").append(shapeString(shape)).append('{');
    int show = Math.min(data.length, 6);
    for (int i = 0; i < show; i++) {
      sb.append(i == 0 ? "" : ", ").append(data[i]);
    }
    if (data.length > show) {
      sb.append(", ...");
    }
    return sb.append('}').toString();
  }
}
