package dev.shardopt.engine.device;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.shardopt.engine.kernel.AdagradKernel;
import dev.shardopt.engine.kernel.AdamKernel;
import dev.shardopt.engine.kernel.LionKernel;
import dev.shardopt.engine.kernel.MomentumKernel;
import dev.shardopt.engine.kernel.NesterovKernel;
import dev.shardopt.engine.kernel.RmspropKernel;
import dev.shardopt.engine.kernel.SgdKernel;
import dev.shardopt.engine.kernel.StepScalars;
import dev.shardopt.engine.kernel.UpdateKernel;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The launch scalars: hand-computed values for each rule, and, for every rule and variant, a Java
 * transcription of shardopt_kernels.c that reads only the launch's arguments and must reproduce the
 * Java kernel bit for bit (so every scalar the kernel needs is there, in the right place).
 */
class KernelLaunchesTest {

  private static final float INF = Float.POSITIVE_INFINITY;

  @Test
  void adamScalarsByHand() {
    // beta1 = 0.5, beta2 = 0.75, step 2: 1 - 0.5^2 = 0.75, 1 - 0.75^2 = 0.4375 (all exact).
    StepScalars s = StepScalars.of(2, 0.3).withClipValue(4f).withGradScale(0.5f).withCoupledDecay(0.125f);
    KernelLaunch l = KernelLaunches.of(new AdamKernel(0.5, 0.75, 0.25, false, false), s);
    assertEquals(KernelSource.ADAM, l.kernel());
    assertArrayEquals(new int[] {0, 1, -1}, l.stateArgs());
    assertArrayEquals(new float[] {4f, 0.5f, 0.125f, 1f, 0.5f, 0.5f, 0.75f, 0.25f, 0.25f,
        (float) (0.3 / 0.75), (float) Math.sqrt(0.4375)}, l.floats());
    assertEquals(0.4f, l.floats()[9]);
    assertEquals(0.6614378f, l.floats()[10]);
    assertArrayEquals(new int[] {0}, l.ints());

    KernelLaunch w = KernelLaunches.of(new AdamKernel(0.5, 0.75, 0.25, true, true),
        StepScalars.of(1, 0.1).withDecoupledDecay(0.5));
    assertArrayEquals(new int[] {0, 1, 2}, w.stateArgs());
    assertEquals(0.95f, w.floats()[3], "decay = (float) (1 - 0.1 * 0.5)");
    assertEquals((float) (0.1 / 0.5), w.floats()[9], "step 1: 1 - 0.5 = 0.5");
    assertEquals((float) Math.sqrt(0.25), w.floats()[10]);
    assertArrayEquals(new int[] {1}, w.ints());
  }

  @Test
  void otherRulesScalarsByHand() {
    StepScalars s1 = StepScalars.of(1, 0.2);
    StepScalars s3 = StepScalars.of(3, 0.2);
    KernelLaunch m1 = KernelLaunches.of(new MomentumKernel(0.5, 0.25), s1);
    assertArrayEquals(new float[] {INF, 1f, 0f, 0.2f, 0.5f, 0.75f}, m1.floats());
    assertArrayEquals(new int[] {1}, m1.ints(), "first step");
    assertArrayEquals(new int[] {0}, KernelLaunches.of(new MomentumKernel(0.5, 0.25), s3).ints());
    assertArrayEquals(new float[] {INF, 1f, 0f, 0.2f, 0.5f},
        KernelLaunches.of(new NesterovKernel(0.5), s3).floats());
    // clr = 0.2 / (1 + 2 * 0.5) = 0.1
    assertArrayEquals(new float[] {INF, 1f, 0f, 0.1f, 0.25f},
        KernelLaunches.of(new AdagradKernel(0.25, 3, 0.5), s3).floats());
    KernelLaunch rIn = KernelLaunches.of(new RmspropKernel(0.75, 0.125, 0.5, true, true), s1);
    assertArrayEquals(new int[] {0, 1, 2}, rIn.stateArgs());
    assertArrayEquals(new float[] {INF, 1f, 0f, 0.2f, 0.75f, 0.25f, 0.125f, 0f, 0.5f}, rIn.floats());
    assertArrayEquals(new int[] {1, 1}, rIn.ints());
    KernelLaunch rOut = KernelLaunches.of(new RmspropKernel(0.75, 0.125, 0.5, false, false), s1);
    assertArrayEquals(new int[] {0, -1, 1}, rOut.stateArgs());
    assertArrayEquals(new float[] {INF, 1f, 0f, 0.2f, 0.75f, 0.25f, 0f, 0.125f, 0.5f}, rOut.floats());
    assertArrayEquals(new int[] {0, 1}, rOut.ints());
    assertArrayEquals(new int[] {0, -1, -1},
        KernelLaunches.of(new RmspropKernel(0.75, 0.125, 0, false, false), s1).stateArgs());
    KernelLaunch lion = KernelLaunches.of(new LionKernel(0.75, 0.5), s1.withDecoupledDecay(0.5));
    assertArrayEquals(new float[] {INF, 1f, 0f, 0.2f, 0.9f, 0.75f, 0.25f, 0.5f, 0.5f}, lion.floats());
  }

  @Test
  void aDecoupledDecayOnACoupledRuleAndAnUnknownRuleAreRejected() {
    StepScalars s = StepScalars.of(1, 0.1).withDecoupledDecay(0.01);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> KernelLaunches.of(new AdamKernel(0.9, 0.999, 1e-8, false, false), s));
    assertThat(e.getMessage()).contains("has no decoupled weight decay; got decoupledDecay=0.01");
    assertThrows(IllegalArgumentException.class, () -> KernelLaunches.of(new SgdKernel(), s));
    UpdateKernel custom = new UpdateKernel() {
      @Override
      public List<String> stateSlots() {
        return List.of();
      }

      @Override
      public void apply(float[] p, float[] g, float[][] st, int from, int to, StepScalars sc) {}

      @Override
      public String toString() {
        return "Custom";
      }
    };
    assertThat(assertThrows(IllegalArgumentException.class,
        () -> KernelLaunches.of(custom, StepScalars.of(1, 0.1))).getMessage())
        .startsWith("no device kernel for Custom");
  }

  @Test
  void trainerMeanSteps() {
    int out = KernelLaunches.OUT;
    assertEquals(List.of(new KernelLaunches.MeanStep(KernelSource.DIV, 0, out, 1f)),
        KernelLaunches.trainerMean(1));
    assertEquals(List.of(new KernelLaunches.MeanStep(KernelSource.ADD_DIV, 0, 1, 2f)),
        KernelLaunches.trainerMean(2));
    List<KernelLaunches.MeanStep> four = KernelLaunches.trainerMean(4);
    assertEquals(3, four.size());
    assertEquals(KernelSource.ADD, four.get(0).kernel());
    assertEquals(List.of(0, 1), List.of(four.get(0).a(), four.get(0).b()));
    assertEquals(List.of(out, 2), List.of(four.get(1).a(), four.get(1).b()));
    assertEquals(new KernelLaunches.MeanStep(KernelSource.ADD_DIV, out, 3, 4f), four.get(2));
    assertThrows(IllegalArgumentException.class, () -> KernelLaunches.trainerMean(0));
  }

  @Test
  void trainerMeanStepsReproduceTheCpuBackend() {
    int n = 513;
    for (int k = 1; k <= 5; k++) {
      float[][] g = new float[k][];
      for (int r = 0; r < k; r++) {
        g[r] = mixed(n, 40 + r);
      }
      float[] expected = new float[n];
      System.arraycopy(g[0], 0, expected, 0, n); // CpuBackend.trainerMean, written out
      for (int r = 1; r < k; r++) {
        for (int i = 0; i < n; i++) {
          expected[i] += g[r][i];
        }
      }
      for (int i = 0; i < n; i++) {
        expected[i] /= (float) k;
      }
      float[] o = new float[n];
      for (KernelLaunches.MeanStep st : KernelLaunches.trainerMean(k)) {
        float[] a = st.a() == KernelLaunches.OUT ? o : g[st.a()];
        float[] b = st.b() == KernelLaunches.OUT ? o : g[st.b()];
        for (int i = 0; i < n; i++) {
          o[i] = switch (st.kernel()) {
            case KernelSource.ADD -> a[i] + b[i];
            case KernelSource.DIV -> divf(a[i], st.k());
            case KernelSource.ADD_DIV -> divf(a[i] + b[i], st.k());
            default -> throw new AssertionError(st);
          };
        }
      }
      assertBits(expected, o, "mean of " + k);
    }
  }

  @Test
  void theLaunchArgumentsReproduceEveryJavaKernel() {
    List<UpdateKernel> kernels = List.of(new SgdKernel(), new MomentumKernel(0.9, 0.3),
        new NesterovKernel(0.8), new AdagradKernel(1e-6, 0.1, 0.01),
        new RmspropKernel(0.99, 1e-8, 0, false, false), new RmspropKernel(0.99, 1e-8, 0.9, true, false),
        new RmspropKernel(0.9, 1e-7, 0.5, false, true), new RmspropKernel(0.9, 1e-7, 0, true, true),
        new AdamKernel(0.9, 0.999, 1e-8, false, false), new AdamKernel(0.9, 0.999, 1e-8, true, true),
        new LionKernel(0.9, 0.99));
    int n = 1000;
    for (UpdateKernel k : kernels) {
      boolean decoupled = k instanceof LionKernel || (k instanceof AdamKernel a && a.decoupled());
      float[] pj = mixed(n, 1);
      float[] pm = pj.clone();
      float[][] sj = k.newState(n);
      float[][] sm = k.newState(n);
      for (int step = 1; step <= 3; step++) {
        float[] g = mixed(n, 10 + step);
        StepScalars s = StepScalars.of(step, 1e-3 * step).withClipValue(0.5f).withGradScale(0.9f)
            .withCoupledDecay(0.01f);
        if (decoupled) {
          s = s.withDecoupledDecay(0.02);
        }
        k.apply(pj, g, sj, 0, n, s);
        Transcription.run(KernelLaunches.of(k, s), pm, g, sm);
        assertBits(pj, pm, k + " step " + step + " param");
        for (int j = 0; j < sj.length; j++) {
          assertBits(sj[j], sm[j], k + " step " + step + " " + k.stateSlots().get(j));
        }
      }
    }
  }

  /** shardopt_kernels.c's update kernels in Java, reading the arguments by position. */
  private static final class Transcription {
    static void run(KernelLaunch l, float[] param, float[] grad, float[][] state) {
      float[][] ptr = new float[l.stateArgs().length][];
      for (int j = 0; j < ptr.length; j++) {
        ptr[j] = l.stateArgs()[j] < 0 ? null : state[l.stateArgs()[j]];
      }
      float[] f = l.floats();
      int[] in = l.ints();
      for (int i = 0; i < param.length; i++) {
        float p = param[i];
        float g = Math.min(Math.max(grad[i], -f[0]), f[0]) * f[1] + f[2] * p;
        switch (l.kernel()) {
          case KernelSource.SGD -> param[i] = p - f[3] * g;
          case KernelSource.MOMENTUM -> {
            float m = in[0] != 0 ? g : f[4] * ptr[0][i] + f[5] * g;
            ptr[0][i] = m;
            param[i] = p - f[3] * m;
          }
          case KernelSource.NESTEROV -> {
            float m = in[0] != 0 ? g : f[4] * ptr[0][i] + g;
            ptr[0][i] = m;
            param[i] = p - f[3] * (g + f[4] * m);
          }
          case KernelSource.ADAGRAD -> {
            float acc = ptr[0][i] + g * g;
            ptr[0][i] = acc;
            param[i] = p - divf(f[3] * g, sqrtf(acc) + f[4]);
          }
          case KernelSource.RMSPROP -> {
            float v = f[4] * ptr[0][i] + f[5] * g * g;
            ptr[0][i] = v;
            float den;
            if (in[0] != 0) {
              float a = f[4] * ptr[1][i] + f[5] * g;
              ptr[1][i] = a;
              den = sqrtf(v - a * a + f[6]) + f[7];
            } else {
              den = sqrtf(v + f[6]) + f[7];
            }
            if (in[1] != 0) {
              float b = f[8] * ptr[2][i] + divf(g, den);
              ptr[2][i] = b;
              param[i] = p - f[3] * b;
            } else {
              param[i] = p - divf(f[3] * g, den);
            }
          }
          case KernelSource.ADAM -> {
            float m = f[4] * ptr[0][i] + f[5] * g;
            float v = f[6] * ptr[1][i] + f[7] * g * g;
            ptr[0][i] = m;
            ptr[1][i] = v;
            if (in[0] != 0) {
              v = Math.max(ptr[2][i], v);
              ptr[2][i] = v;
            }
            param[i] = p * f[3] - divf(f[9] * m, divf(sqrtf(v), f[10]) + f[8]);
          }
          case KernelSource.LION -> {
            float m = ptr[0][i];
            float c = f[5] * m + f[6] * g;
            param[i] = p * f[4] - f[3] * Math.signum(c);
            ptr[0][i] = f[7] * m + f[8] * g;
          }
          default -> throw new AssertionError(l.kernel());
        }
      }
    }
  }

  private static float divf(float a, float b) {
    return (float) ((double) a / (double) b);
  }

  private static float sqrtf(float x) {
    return (float) Math.sqrt(x);
  }

  private static float[] mixed(int n, long seed) {
    float[] special = {0f, -0f, Float.MIN_VALUE, 1e-40f, -1e-30f, 1e20f, -3e38f, 1f, -2f};
    SplittableRandom r = new SplittableRandom(seed);
    float[] a = new float[n];
    for (int i = 0; i < n; i++) {
      a[i] = r.nextInt(4) == 0 ? special[r.nextInt(special.length)]
          : (float) (r.nextDouble(-1, 1) * Math.pow(10, r.nextInt(-6, 4)));
    }
    return a;
  }

  private static void assertBits(float[] expected, float[] actual, String what) {
    for (int i = 0; i < expected.length; i++) {
      if (Float.floatToRawIntBits(expected[i]) != Float.floatToRawIntBits(actual[i])) {
        throw new AssertionError(what + ": element " + i + " expected " + expected[i] + " got " + actual[i]);
      }
    }
  }
}
