package dev.shardopt.engine.device;

import dev.shardopt.engine.kernel.AdagradKernel;
import dev.shardopt.engine.kernel.AdamKernel;
import dev.shardopt.engine.kernel.LionKernel;
import dev.shardopt.engine.kernel.MomentumKernel;
import dev.shardopt.engine.kernel.NesterovKernel;
import dev.shardopt.engine.kernel.RmspropKernel;
import dev.shardopt.engine.kernel.SgdKernel;
import dev.shardopt.engine.kernel.StepScalars;
import dev.shardopt.engine.kernel.UpdateKernel;
import java.util.ArrayList;
import java.util.List;

/**
 * The host side of the accelerator kernels, shared by the OpenCL and CUDA backends so that they
 * cannot diverge: which kernel of {@link KernelSource} runs a rule, with which scalars, and how the
 * trainer mean is composed.
 *
 * <p>Every scalar is computed exactly as the Java kernel computes it on the host, from the same
 * doubles, with the same casts to float:
 *
 * <ul>
 *   <li>all rules: {@code clip = s.clipValue()}, {@code scale = s.gradScale()}, {@code wd =
 *       s.coupledDecay()}, {@code lr = (float) s.lr()};
 *   <li>momentum: {@code beta = (float) beta}, {@code omd = (float) (1 - dampening)}, {@code first =
 *       step == 1}; nesterov: {@code beta = (float) beta}, {@code first = step == 1};
 *   <li>adagrad: {@code clr = (float) (lr / (1 + (step - 1) * lrDecay))}, {@code eps = (float) eps};
 *   <li>rmsprop: {@code rho = (float) rho}, {@code omr = (float) (1 - rho)}, {@code eps_in, eps_out =
 *       (float) eps, 0} when epsInsideSqrt else {@code 0, (float) eps}, {@code mom = (float)
 *       momentum};
 *   <li>adam: {@code decay = s.decoupledFactor()} when decoupled else 1, {@code b1 = (float) beta1},
 *       {@code omb1 = (float) (1 - beta1)} (likewise b2, omb2), {@code eps = (float) eps}, {@code
 *       step_size = (float) (lr / (1 - beta1^k))}, {@code bc2 = (float) sqrt(1 - beta2^k)} with
 *       {@code Math.pow} and {@code k = (double) step};
 *   <li>lion: {@code decay = s.decoupledFactor()}, b1, omb1, b2, omb2 as adam.
 * </ul>
 *
 * A decoupled decay on a rule without one (all but AdamW's {@code AdamKernel} and Lion) is rejected,
 * as the Java kernels reject it.
 */
public final class KernelLaunches {

  private KernelLaunches() {}

  /**
   * The launch of {@code kernel} for one update with {@code s}.
   *
   * @throws IllegalArgumentException for a rule that has no device kernel, or a decoupled decay on a
   *     rule without one
   */
  public static KernelLaunch of(UpdateKernel kernel, StepScalars s) {
    final float clip = s.clipValue();
    final float scale = s.gradScale();
    final float wd = s.coupledDecay();
    final float lr = (float) s.lr();
    final int first = s.step() == 1 ? 1 : 0;
    if (kernel instanceof SgdKernel) {
      noDecoupled(kernel, s);
      return new KernelLaunch(KernelSource.SGD, new int[0], new float[] {clip, scale, wd, lr}, new int[0]);
    }
    if (kernel instanceof MomentumKernel k) {
      noDecoupled(kernel, s);
      return new KernelLaunch(KernelSource.MOMENTUM, new int[] {0},
          new float[] {clip, scale, wd, lr, (float) k.beta(), (float) (1d - k.dampening())},
          new int[] {first});
    }
    if (kernel instanceof NesterovKernel k) {
      noDecoupled(kernel, s);
      return new KernelLaunch(KernelSource.NESTEROV, new int[] {0},
          new float[] {clip, scale, wd, lr, (float) k.beta()}, new int[] {first});
    }
    if (kernel instanceof AdagradKernel k) {
      noDecoupled(kernel, s);
      float clr = (float) (s.lr() / (1d + (s.step() - 1) * k.lrDecay()));
      return new KernelLaunch(KernelSource.ADAGRAD, new int[] {0},
          new float[] {clip, scale, wd, clr, (float) k.eps()}, new int[0]);
    }
    if (kernel instanceof RmspropKernel k) {
      noDecoupled(kernel, s);
      boolean momentum = k.momentum() > 0d;
      float eps = (float) k.eps();
      int avg = k.centered() ? 1 : -1;
      int buf = momentum ? (k.centered() ? 2 : 1) : -1;
      return new KernelLaunch(KernelSource.RMSPROP, new int[] {0, avg, buf},
          new float[] {clip, scale, wd, lr, (float) k.rho(), (float) (1d - k.rho()),
              k.epsInsideSqrt() ? eps : 0f, k.epsInsideSqrt() ? 0f : eps, (float) k.momentum()},
          new int[] {k.centered() ? 1 : 0, momentum ? 1 : 0});
    }
    if (kernel instanceof AdamKernel k) {
      if (!k.decoupled()) {
        noDecoupled(kernel, s);
      }
      final double step = (double) s.step();
      final double bias1 = 1d - Math.pow(k.beta1(), step);
      final double bias2 = 1d - Math.pow(k.beta2(), step);
      final float decay = k.decoupled() ? s.decoupledFactor() : 1f;
      return new KernelLaunch(KernelSource.ADAM, new int[] {0, 1, k.amsgrad() ? 2 : -1},
          new float[] {clip, scale, wd, decay,
              (float) k.beta1(), (float) (1d - k.beta1()), (float) k.beta2(), (float) (1d - k.beta2()),
              (float) k.eps(), (float) (s.lr() / bias1), (float) Math.sqrt(bias2)},
          new int[] {k.amsgrad() ? 1 : 0});
    }
    if (kernel instanceof LionKernel k) {
      return new KernelLaunch(KernelSource.LION, new int[] {0},
          new float[] {clip, scale, wd, lr, s.decoupledFactor(),
              (float) k.beta1(), (float) (1d - k.beta1()), (float) k.beta2(), (float) (1d - k.beta2())},
          new int[0]);
    }
    throw new IllegalArgumentException(
        "no device kernel for " + kernel + " (" + kernel.getClass().getName()
            + "); the device backends run SgdKernel, MomentumKernel, NesterovKernel, AdagradKernel,"
            + " RmspropKernel, AdamKernel and LionKernel");
  }

  private static void noDecoupled(UpdateKernel kernel, StepScalars s) {
    if (s.decoupledDecay() != 0d) {
      throw new IllegalArgumentException(
          kernel + " has no decoupled weight decay; got decoupledDecay=" + s.decoupledDecay());
    }
  }

  /** In a {@link MeanStep}, the output array rather than one of the inputs. */
  public static final int OUT = -1;

  /**
   * One element-wise launch of a mean: {@code out = a + b} ({@value KernelSource#ADD}), {@code out =
   * a / k} ({@value KernelSource#DIV}, {@code b} unused) or {@code out = (a + b) / k} ({@value
   * KernelSource#ADD_DIV}). {@code a} and {@code b} index the inputs, or are {@link #OUT}.
   */
  public record MeanStep(String kernel, int a, int b, float k) {}

  /**
   * The launches that compute {@link DeviceBackend#trainerMean} of {@code count} inputs, bitwise as
   * {@link CpuBackend}: {@code out = g0; out += g1; …; out /= (float) count} per element, fused into
   * {@code out = g0 / 1} (K = 1), {@code out = (g0 + g1) / 2} (K = 2), or {@code out = g0 + g1},
   * {@code out = out + g2}, …, {@code out = (out + g[K-1]) / K}.
   */
  public static List<MeanStep> trainerMean(int count) {
    if (count < 1) {
      throw new IllegalArgumentException("the trainer mean needs at least one gradient, got " + count);
    }
    float k = count;
    if (count == 1) {
      return List.of(new MeanStep(KernelSource.DIV, 0, OUT, k));
    }
    List<MeanStep> steps = new ArrayList<>(count - 1);
    for (int r = 1; r < count - 1; r++) {
      steps.add(new MeanStep(KernelSource.ADD, r == 1 ? 0 : OUT, r, Float.NaN));
    }
    steps.add(new MeanStep(KernelSource.ADD_DIV, count == 2 ? 0 : OUT, count - 1, k));
    return List.copyOf(steps);
  }
}
