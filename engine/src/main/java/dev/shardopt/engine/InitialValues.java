package dev.shardopt.engine;

import dev.shardopt.v1.Initializer;
import java.util.Arrays;

/**
 * Fills a shard from a tensor's {@link Initializer}. Generated values depend only on the seed and
 * the element's index in the flattened tensor (a counter-based generator), so every sharding of a
 * tensor gets the same values.
 *
 * <ul>
 *   <li>uniform(low, high, seed): {@code low + (high - low) u(i)}, with {@code u(i)} in [0, 1) from
 *       SplitMix64 of {@code (seed, i)};
 *   <li>normal(mean, std, seed): Box-Muller on {@code u(2i), u(2i+1)}, the cosine branch.
 * </ul>
 */
public final class InitialValues {
  private InitialValues() {}

  /** Fills {@code out} with elements {@code [offset, offset + out.length)} of the tensor. */
  public static void fill(Initializer init, long offset, float[] out) {
    switch (init.getKindCase()) {
      case ZEROS, KIND_NOT_SET, UPLOAD -> Arrays.fill(out, 0f);
      case CONSTANT -> Arrays.fill(out, (float) init.getConstant().getValue());
      case UNIFORM -> {
        Initializer.Uniform u = init.getUniform();
        double span = u.getHigh() - u.getLow();
        float below = Math.nextDown((float) u.getHigh()); // rounding to float must not reach high
        for (int i = 0; i < out.length; i++) {
          float v = (float) (u.getLow() + span * unit(u.getSeed(), offset + i));
          out[i] = span > 0 && v >= u.getHigh() ? Math.max(below, (float) u.getLow()) : v;
        }
      }
      case NORMAL -> {
        Initializer.Normal n = init.getNormal();
        for (int i = 0; i < out.length; i++) {
          long e = offset + i;
          double u1 = 1.0 - unit(n.getSeed(), 2 * e); // (0, 1]
          double u2 = unit(n.getSeed(), 2 * e + 1);
          out[i] = (float) (n.getMean() + n.getStd() * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2));
        }
      }
    }
  }

  /** Checks the initializer's parameters. */
  public static void validate(String tensor, Initializer init) {
    switch (init.getKindCase()) {
      case CONSTANT -> finite(tensor, "constant value", init.getConstant().getValue());
      case UNIFORM -> {
        finite(tensor, "uniform low", init.getUniform().getLow());
        finite(tensor, "uniform high", init.getUniform().getHigh());
        if (!(init.getUniform().getLow() <= init.getUniform().getHigh())) {
          throw new IllegalArgumentException("tensor '" + tensor + "': uniform low must be <= high, got ["
              + init.getUniform().getLow() + ", " + init.getUniform().getHigh() + ")");
        }
      }
      case NORMAL -> {
        finite(tensor, "normal mean", init.getNormal().getMean());
        if (!(init.getNormal().getStd() >= 0 && Double.isFinite(init.getNormal().getStd()))) {
          throw new IllegalArgumentException(
              "tensor '" + tensor + "': normal std must be finite and >= 0, got " + init.getNormal().getStd());
        }
      }
      default -> {}
    }
  }

  private static void finite(String tensor, String what, double v) {
    if (!Double.isFinite(v)) {
      throw new IllegalArgumentException("tensor '" + tensor + "': " + what + " must be finite, got " + v);
    }
  }

  /** A uniform double in [0, 1) from (seed, index): SplitMix64's finalizer on a Weyl sequence. */
  static double unit(long seed, long index) {
    long z = seed + (index + 1) * 0x9E3779B97F4A7C15L;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    z = z ^ (z >>> 31);
    return (z >>> 11) * 0x1.0p-53;
  }
}
