package dev.shardopt.device.opencl;

import static dev.shardopt.device.opencl.BitAssertions.assertSameBits;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shardopt.engine.device.CpuBackend;
import dev.shardopt.engine.device.DeviceArray;
import dev.shardopt.engine.device.DeviceBackend;
import dev.shardopt.engine.kernel.AdagradKernel;
import dev.shardopt.engine.kernel.AdamKernel;
import dev.shardopt.engine.kernel.LionKernel;
import dev.shardopt.engine.kernel.MomentumKernel;
import dev.shardopt.engine.kernel.NesterovKernel;
import dev.shardopt.engine.kernel.ParallelApply;
import dev.shardopt.engine.kernel.RmspropKernel;
import dev.shardopt.engine.kernel.SgdKernel;
import dev.shardopt.engine.kernel.StepScalars;
import dev.shardopt.engine.kernel.UpdateKernel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every rule and variant, under every kind of step scalars, over several steps: the opencl backend's
 * parameters and state are bitwise equal to the cpu backend's (the Java kernels) after each step.
 */
class UpdateKernelConformanceTest {

  /** Lengths: empty, one, a partial work-group, and over three reduction blocks plus a ragged tail. */
  private static final int[] LENGTHS = {0, 1, 77, 3 * 8192 + 777};

  private static final int STEPS = 3;

  private static ExecutorService executor;
  private static CpuBackend cpu;
  private static OpenClBackend opencl;

  @BeforeAll
  static void open() {
    opencl = OpenClDevices.open();
    executor = Executors.newFixedThreadPool(1);
    cpu = new CpuBackend(new ParallelApply(executor, 2));
  }

  @AfterAll
  static void close() {
    if (opencl != null) {
      opencl.close();
    }
    if (executor != null) {
      executor.shutdownNow();
    }
  }

  /** How a step's scalars are set. */
  enum Mode {
    NONE, CLIP_VALUE, CLIP_NORM, COUPLED, DECOUPLED, ALL,
    /**
     * Clamped and coupled, with NaN and infinite gradients (which the step decision would skip):
     * NaNs compare as equal whatever their payload (see BitAssertions), every other value by bits.
     */
    NON_FINITE;

    float[] gradient(int n, long seed) {
      return this == NON_FINITE ? TestData.withNonFinite(n, seed) : TestData.mixed(n, seed);
    }

    StepScalars scalars(int step) {
      double lr = 1e-3 * (1 + step); // changes every step, so lr reaches the kernel each time
      StepScalars s = StepScalars.of(step, lr);
      return switch (this) {
        case NONE -> s;
        case CLIP_VALUE -> s.withClipValue(0.05f);
        case CLIP_NORM -> s.withGradScale(0.37f + 0.01f * step);
        case COUPLED -> s.withCoupledDecay(0.01f);
        case DECOUPLED -> s.withDecoupledDecay(0.05);
        case ALL -> s.withClipValue(0.5f).withGradScale(0.8f).withCoupledDecay(0.02f);
        case NON_FINITE -> s.withClipValue(2f).withCoupledDecay(0.01f);
      };
    }
  }

  static Stream<Arguments> cases() {
    List<UpdateKernel> kernels = List.of(
        new SgdKernel(),
        new MomentumKernel(0.9, 0),
        new MomentumKernel(0.9, 0.3),
        new NesterovKernel(0.9),
        new AdagradKernel(1e-10, 0, 0),
        new AdagradKernel(1e-6, 0.1, 0.01),
        new RmspropKernel(0.99, 1e-8, 0, false, false),
        new RmspropKernel(0.99, 1e-8, 0, true, false),
        new RmspropKernel(0.99, 1e-8, 0.9, false, false),
        new RmspropKernel(0.99, 1e-8, 0.9, true, false),
        new RmspropKernel(0.9, 1e-7, 0, false, true),
        new RmspropKernel(0.9, 1e-7, 0.5, true, true),
        new AdamKernel(0.9, 0.999, 1e-8, false, false),
        new AdamKernel(0.9, 0.999, 1e-8, true, false),
        new AdamKernel(0.9, 0.999, 1e-8, false, true),
        new AdamKernel(0.8, 0.99, 1e-6, true, true),
        new LionKernel(0.9, 0.99));
    List<Arguments> out = new ArrayList<>();
    for (UpdateKernel k : kernels) {
      for (Mode m : Mode.values()) {
        out.add(Arguments.of(k, m));
      }
    }
    return out.stream();
  }

  private static boolean hasDecoupled(UpdateKernel k) {
    return k instanceof LionKernel || (k instanceof AdamKernel a && a.decoupled());
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("cases")
  void bitwiseEqualToCpu(UpdateKernel kernel, Mode mode) {
    for (int n : LENGTHS) {
      if (mode == Mode.DECOUPLED && !hasDecoupled(kernel)) {
        rejectedByBoth(kernel, n);
      } else {
        run(kernel, mode, n);
      }
    }
  }

  private void run(UpdateKernel kernel, Mode mode, int n) {
    long seed = 31L * n + kernel.toString().hashCode() + mode.ordinal();
    Shard c = new Shard(cpu, kernel, n);
    Shard o = new Shard(opencl, kernel, n);
    float[] p0 = TestData.mixed(n, seed);
    c.upload(p0);
    o.upload(p0);
    for (int step = 1; step <= STEPS; step++) {
      float[] g = mode.gradient(n, seed * 7 + step);
      StepScalars s = mode.scalars(step);
      c.step(g, s);
      o.step(g, s);
      String what = kernel + " " + mode + " n=" + n + " step " + step;
      boolean anyNaN = mode == Mode.NON_FINITE;
      float[] cp = c.param();
      assertSameBits(cp, o.param(), what + " param", anyNaN);
      for (int j = 0; j < kernel.stateSlots().size(); j++) {
        assertSameBits(c.state(j), o.state(j), what + " " + kernel.stateSlots().get(j), anyNaN);
      }
      if (anyNaN && n > 1000) {
        assertTrue(IntStream.range(0, n).anyMatch(i -> Float.isNaN(cp[i])), what + ": no NaN reached p");
      }
    }
    c.release();
    o.release();
  }

  private void rejectedByBoth(UpdateKernel kernel, int n) {
    Shard c = new Shard(cpu, kernel, n);
    Shard o = new Shard(opencl, kernel, n);
    StepScalars s = Mode.DECOUPLED.scalars(1);
    float[] g = new float[n];
    IllegalArgumentException oe = assertThrows(IllegalArgumentException.class, () -> o.step(g, s));
    assertEquals(kernel + " has no decoupled weight decay; got decoupledDecay=0.05", oe.getMessage());
    if (n > 0) { // the cpu backend checks nothing over an empty array; the opencl one checks first
      IllegalArgumentException ce = assertThrows(IllegalArgumentException.class, () -> c.step(g, s));
      assertEquals(ce.getMessage(), oe.getMessage());
    }
    c.release();
    o.release();
  }

  /** One parameter shard with its gradient and state on a backend. */
  private static final class Shard {
    final DeviceBackend backend;
    final UpdateKernel kernel;
    final int n;
    final DeviceArray param;
    final DeviceArray grad;
    final DeviceArray[] state;

    Shard(DeviceBackend backend, UpdateKernel kernel, int n) {
      this.backend = backend;
      this.kernel = kernel;
      this.n = n;
      param = backend.allocate(n);
      grad = backend.allocate(n);
      state = new DeviceArray[kernel.stateSlots().size()];
      for (int j = 0; j < state.length; j++) {
        state[j] = backend.allocate(n);
        backend.fill(state[j], kernel.initialValue(j));
      }
    }

    void upload(float[] p) {
      backend.upload(p, 0, param, 0, n);
    }

    void step(float[] g, StepScalars s) {
      backend.upload(g, 0, grad, 0, n);
      backend.apply(kernel, param, grad, state, s);
    }

    float[] param() {
      float[] out = new float[n];
      backend.download(param, 0, out, 0, n);
      return out;
    }

    float[] state(int j) {
      float[] out = new float[n];
      backend.download(state[j], 0, out, 0, n);
      return out;
    }

    void release() {
      backend.release(param);
      backend.release(grad);
      for (DeviceArray a : state) {
        backend.release(a);
      }
    }
  }
}
