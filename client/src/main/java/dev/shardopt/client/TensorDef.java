package dev.shardopt.client;

import dev.shardopt.v1.Initializer;
import dev.shardopt.v1.TensorSpec;
import java.util.Arrays;
import java.util.Objects;

/**
 * An immutable tensor definition: a name, a shape and how the initial values are made. Build one
 * with {@link Tensors#of(String, long...)} and {@link #init(Initializer)}, or with explicit values
 * by {@link Tensors#of(String, float[], long...)}.
 */
public final class TensorDef {
  /** Largest element count of one tensor: the client holds a tensor in one {@code float[]}. */
  public static final int MAX_ELEMENTS = Integer.MAX_VALUE - 8;

  private final String name;
  private final long[] shape;
  private final int elements;
  private final Initializer init;
  private final float[] values; // non-null only for uploads

  TensorDef(String name, long[] shape, Initializer init, float[] values) {
    this.name = Objects.requireNonNull(name, "name");
    if (name.isEmpty()) {
      throw new IllegalArgumentException("a tensor name must not be empty");
    }
    this.shape = Objects.requireNonNull(shape, "shape").clone();
    this.elements = elementCount(name, this.shape);
    this.init = Objects.requireNonNull(init, "init");
    if (init.getKindCase() == Initializer.KindCase.KIND_NOT_SET) {
      throw new IllegalArgumentException("tensor '" + name + "': the initializer sets no kind");
    }
    if (init.hasUpload() != (values != null)) {
      throw new IllegalArgumentException(
          "tensor '" + name + "': the upload initializer needs values; give them with "
              + "Tensors.of(name, values, shape)");
    }
    if (values != null && values.length != elements) {
      throw new IllegalArgumentException(
          "tensor '" + name + "' has " + values.length + " values, expected " + elements
              + " for shape " + Arrays.toString(this.shape));
    }
    this.values = values == null ? null : values.clone();
  }

  /** The number of elements of {@code shape} (1 for a scalar, shape {@code []}). */
  static int elementCount(String name, long[] shape) {
    long n = 1;
    for (long d : shape) {
      if (d <= 0) {
        throw new IllegalArgumentException(
            "tensor '" + name + "': every dimension must be positive, got shape "
                + Arrays.toString(shape));
      }
      if (n > MAX_ELEMENTS / d) {
        throw new IllegalArgumentException(
            "tensor '" + name + "' of shape " + Arrays.toString(shape) + " has more than "
                + MAX_ELEMENTS + " elements, the most one tensor may have");
      }
      n *= d;
    }
    return (int) n;
  }

  public String name() {
    return name;
  }

  /** A copy of the shape. */
  public long[] shape() {
    return shape.clone();
  }

  /** The number of elements. */
  public int elements() {
    return elements;
  }

  public Initializer initializer() {
    return init;
  }

  /** Whether the client uploads the values (made by {@link Tensors#of(String, float[], long...)}). */
  public boolean isUpload() {
    return values != null;
  }

  /** A copy of the values to upload, or null when the initializer generates them. */
  public float[] values() {
    return values == null ? null : values.clone();
  }

  /** The values without a copy, for sending. */
  float[] valuesUnsafe() {
    return values;
  }

  /**
   * This tensor with another initializer. Not for a tensor with explicit values, nor to ask for an
   * upload: use {@link Tensors#of(String, float[], long...)} for that.
   */
  public TensorDef init(Initializer initializer) {
    Objects.requireNonNull(initializer, "initializer");
    if (values != null) {
      throw new IllegalStateException(
          "tensor '" + name + "' was given explicit values; it cannot take another initializer");
    }
    return new TensorDef(name, shape, initializer, null);
  }

  TensorSpec toProto() {
    TensorSpec.Builder b = TensorSpec.newBuilder().setName(name).setInit(init);
    for (long d : shape) {
      b.addShape(d);
    }
    return b.build();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TensorDef t
        && name.equals(t.name)
        && Arrays.equals(shape, t.shape)
        && init.equals(t.init)
        && Arrays.equals(values, t.values);
  }

  @Override
  public int hashCode() {
    return Objects.hash(name, Arrays.hashCode(shape), init, Arrays.hashCode(values));
  }

  @Override
  public String toString() {
    return name + Arrays.toString(shape) + " " + init.getKindCase().name().toLowerCase();
  }
}
