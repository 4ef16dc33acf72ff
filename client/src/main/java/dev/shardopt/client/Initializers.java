package dev.shardopt.client;

import dev.shardopt.v1.Initializer;

/**
 * How a tensor's initial values are made: {@code import static dev.shardopt.client.Initializers.*;}
 * then {@code Tensors.of("w1", 64, 128).init(normal(0.05, 42))}.
 *
 * <p>Generated values depend only on the seed and the element's index, so they are the same for
 * every sharding. Values given explicitly ({@link Tensors#of(String, float[], long...)}) use
 * {@link #upload()}.
 */
public final class Initializers {
  private Initializers() {}

  /** Every element 0. The default. */
  public static Initializer zeros() {
    return Initializer.newBuilder().setZeros(Initializer.Zeros.getDefaultInstance()).build();
  }

  /** Every element {@code value}. */
  public static Initializer constant(double value) {
    finite("constant value", value);
    return Initializer.newBuilder()
        .setConstant(Initializer.Constant.newBuilder().setValue(value))
        .build();
  }

  /** Normal with mean 0 and standard deviation {@code std}. */
  public static Initializer normal(double std, long seed) {
    return normal(0.0, std, seed);
  }

  /** Normal with the given mean and standard deviation {@code std >= 0}. */
  public static Initializer normal(double mean, double std, long seed) {
    finite("normal mean", mean);
    finite("normal std", std);
    if (std < 0) {
      throw new IllegalArgumentException("normal std must be >= 0, got " + std);
    }
    return Initializer.newBuilder()
        .setNormal(Initializer.Normal.newBuilder().setMean(mean).setStd(std).setSeed(seed))
        .build();
  }

  /** Uniform on {@code [low, high)}, {@code low <= high}. */
  public static Initializer uniform(double low, double high, long seed) {
    finite("uniform low", low);
    finite("uniform high", high);
    if (low > high) {
      throw new IllegalArgumentException(
          "uniform low must be <= high, got low " + low + " and high " + high);
    }
    return Initializer.newBuilder()
        .setUniform(Initializer.Uniform.newBuilder().setLow(low).setHigh(high).setSeed(seed))
        .build();
  }

  /**
   * The client writes the values with {@code Worker.WriteParameters}. Only for tensors made with
   * {@link Tensors#of(String, float[], long...)}, which sets it.
   */
  public static Initializer upload() {
    return Initializer.newBuilder().setUpload(Initializer.Upload.getDefaultInstance()).build();
  }

  private static void finite(String what, double v) {
    if (!Double.isFinite(v)) {
      throw new IllegalArgumentException(what + " must be finite, got " + v);
    }
  }
}
