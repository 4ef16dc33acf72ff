package dev.shardopt.engine;

import java.util.Arrays;

/** A named parameter tensor's shape; its data is the row-major flattening. */
public record TensorShape(String name, long[] shape) {

  public TensorShape {
    if (name == null || name.isEmpty()) {
      throw new IllegalArgumentException("a tensor needs a non-empty name");
    }
    shape = shape.clone();
    long n = 1;
    for (long d : shape) {
      if (d < 0) {
        throw new IllegalArgumentException(
            "tensor '" + name + "' has a negative dimension in shape " + Arrays.toString(shape));
      }
      // past the limit already: stop before the product can overflow a long
      n = d == 0 ? 0 : n > (Integer.MAX_VALUE - 8) / d ? Long.MAX_VALUE : n * d;
    }
    if (n == Long.MAX_VALUE) {
      throw new IllegalArgumentException("tensor '" + name + "' has shape " + Arrays.toString(shape)
          + ", more than " + (Integer.MAX_VALUE - 8) + " elements; at most that many per tensor");
    }
    if (n > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException(
          "tensor '" + name + "' has " + n + " elements; at most " + (Integer.MAX_VALUE - 8) + " per tensor");
    }
  }

  /** Number of elements. */
  public int size() {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    return (int) n;
  }

  @Override
  public long[] shape() {
    return shape.clone();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TensorShape t && t.name.equals(name) && Arrays.equals(t.shape, shape);
  }

  @Override
  public int hashCode() {
    return name.hashCode() * 31 + Arrays.hashCode(shape);
  }

  @Override
  public String toString() {
    return name + Arrays.toString(shape);
  }
}
