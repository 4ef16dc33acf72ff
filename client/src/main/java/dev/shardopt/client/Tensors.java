package dev.shardopt.client;

/** Factories of {@link TensorDef}s. */
public final class Tensors {
  private Tensors() {}

  /** A tensor of {@code shape} (none: a scalar), initialized to zeros unless {@code .init(...)} says otherwise. */
  public static TensorDef of(String name, long... shape) {
    return new TensorDef(name, shape == null ? new long[0] : shape, Initializers.zeros(), null);
  }

  /**
   * A tensor with explicit initial values (row-major, copied): it uses the Upload initializer, and
   * {@code ShardoptCluster.createModel} writes the values to the workers before it returns.
   */
  public static TensorDef of(String name, float[] values, long... shape) {
    if (values == null) {
      throw new IllegalArgumentException("tensor '" + name + "': values must not be null");
    }
    return new TensorDef(name, shape == null ? new long[0] : shape, Initializers.upload(), values);
  }
}
