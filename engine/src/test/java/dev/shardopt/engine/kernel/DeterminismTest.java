package dev.shardopt.engine.kernel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntFunction;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Bitwise determinism of the kernels and reductions across thread counts and chunkings: the
 * reference is one sequential call over the whole array.
 */
class DeterminismTest {

  /** Not a multiple of BLOCK, so the last block is partial. */
  private static final int N = 5 * ReductionBlocks.BLOCK + 1237;

  private static final int[] PARALLELISM = {1, 2, 3, 4, 7};
  private static final int[] CHUNK_BLOCKS = {0, 1, 2, 3, 64};

  private static ExecutorService pool;

  @BeforeAll
  static void startPool() {
    // Fewer threads than the largest parallelism: helpers then queue, which must not matter.
    pool = Executors.newFixedThreadPool(3);
  }

  @AfterAll
  static void stopPool() throws InterruptedException {
    pool.shutdownNow();
    pool.awaitTermination(10, TimeUnit.SECONDS);
  }

  static List<UpdateKernel> kernels() {
    return List.of(
        new SgdKernel(),
        new MomentumKernel(0.9, 0.1),
        new NesterovKernel(0.9),
        new AdagradKernel(1e-10, 0.1, 0.01),
        new RmspropKernel(0.99, 1e-8, 0, false, false),
        new RmspropKernel(0.99, 1e-8, 0, false, true),
        new RmspropKernel(0.9, 1e-8, 0.9, false, false),
        new RmspropKernel(0.9, 1e-8, 0, true, false),
        new RmspropKernel(0.9, 1e-8, 0.9, true, true),
        new AdamKernel(0.9, 0.999, 1e-8, false, false),
        new AdamKernel(0.9, 0.999, 1e-8, false, true),
        new AdamKernel(0.9, 0.999, 1e-8, true, false),
        new AdamKernel(0.9, 0.999, 1e-8, true, true),
        new LionKernel(0.9, 0.99));
  }

  private static boolean decoupled(UpdateKernel k) {
    return k instanceof LionKernel || (k instanceof AdamKernel a && a.decoupled());
  }

  /** Scalars of update {@code step}: with clipping (every prologue term) or without. */
  private static StepScalars scalars(UpdateKernel k, int step, boolean clipped) {
    StepScalars s = clipped
        ? new StepScalars(step, 1e-3 * step, 2.5f, 0.75f, 0f, 0d)
        : StepScalars.of(step, 1e-3 * step);
    return decoupled(k) ? s.withDecoupledDecay(0.01) : s.withCoupledDecay(1e-4f);
  }

  static Stream<Arguments> kernelsAndModes() {
    return kernels().stream().flatMap(k -> Stream.of(Arguments.of(k, false), Arguments.of(k, true)));
  }

  private static float[] randomArray(long seed, int n, float scale) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] a = new float[n];
    for (int i = 0; i < n; i++) {
      a[i] = (float) (r.nextGaussian() * scale);
    }
    a[7] = 0f; // exact zeros for sign(0) and the clamp
    a[11] = 100f; // beyond the clip value
    return a;
  }

  private static float[][] grads(int steps) {
    float[][] g = new float[steps][];
    for (int t = 0; t < steps; t++) {
      g[t] = randomArray(1000 + t, N, 1f);
    }
    return g;
  }

  private interface Stepper {
    void step(UpdateKernel k, float[] p, float[] g, float[][] st, StepScalars s);
  }

  /** Runs three updates from the same start and returns param followed by the state slots. */
  private static float[][] run(UpdateKernel k, boolean clipped, Stepper stepper) {
    return run(k, t -> scalars(k, t, clipped), stepper);
  }

  private static float[][] run(UpdateKernel k, IntFunction<StepScalars> scalars, Stepper stepper) {
    float[] p = randomArray(42, N, 0.1f);
    float[][] st = k.newState(N);
    float[][] g = grads(3);
    for (int t = 0; t < 3; t++) {
      stepper.step(k, p, g[t], st, scalars.apply(t + 1));
    }
    float[][] out = new float[st.length + 1][];
    out[0] = p;
    System.arraycopy(st, 0, out, 1, st.length);
    return out;
  }

  private static void assertBitwiseEqual(float[][] expected, float[][] actual, String what) {
    assertThat(actual.length).isEqualTo(expected.length);
    for (int j = 0; j < expected.length; j++) {
      for (int i = 0; i < N; i++) {
        if (Float.floatToRawIntBits(expected[j][i]) != Float.floatToRawIntBits(actual[j][i])) {
          throw new AssertionError(what + ": array " + j + " differs at " + i + ": "
              + expected[j][i] + " vs " + actual[j][i]);
        }
      }
    }
  }

  @ParameterizedTest
  @MethodSource("kernelsAndModes")
  void kernelIsBitwiseIdenticalForAnyParallelismAndChunking(UpdateKernel k, boolean clipped) {
    float[][] reference = run(k, clipped, (kk, p, g, st, s) -> kk.apply(p, g, st, 0, N, s));
    for (float v : reference[0]) {
      assertThat(Float.isFinite(v)).as("reference stays finite").isTrue();
    }
    for (int par : PARALLELISM) {
      for (int cb : CHUNK_BLOCKS) {
        ParallelApply pa = new ParallelApply(pool, par, cb);
        float[][] got = run(k, clipped, (kk, p, g, st, s) -> pa.apply(kk, p, g, st, s));
        assertBitwiseEqual(reference, got, k + " parallelism=" + par + " chunkBlocks=" + cb);
      }
    }
  }

  @ParameterizedTest
  @MethodSource("kernelsAndModes")
  void kernelIsBitwiseIdenticalForArbitraryCuts(UpdateKernel k, boolean clipped) {
    // Element-wise kernels do not even need block-aligned cuts.
    float[][] reference = run(k, clipped, (kk, p, g, st, s) -> kk.apply(p, g, st, 0, N, s));
    int[] cuts = {0, 1, 17, 4096, 8191, 8192, 20000, 40001, N};
    float[][] got = run(k, clipped, (kk, p, g, st, s) -> {
      for (int c = 0; c + 1 < cuts.length; c++) {
        kk.apply(p, g, st, cuts[c], cuts[c + 1], s);
      }
    });
    assertBitwiseEqual(reference, got, k + " cut");
  }

  @ParameterizedTest
  @MethodSource("kernels")
  void theUnclippedLoopEqualsTheFullPrologueBitwise(UpdateKernel k) {
    // clipValue = +inf with gradScale = 1 selects the loops without clamp and scale; a finite clip
    // bound above every value (Float.MAX_VALUE) selects the full-prologue loops (strip-mined for the
    // five-array rules) while clamping nothing. On finite data both must agree bit for bit.
    float[][] noClip = run(k, t -> scalars(k, t, false), (kk, p, g, st, s) -> kk.apply(p, g, st, 0, N, s));
    float[][] full = run(k, t -> scalars(k, t, false).withClipValue(Float.MAX_VALUE),
        (kk, p, g, st, s) -> kk.apply(p, g, st, 0, N, s));
    assertBitwiseEqual(noClip, full, k + " unclipped vs full prologue");
    // And clamping does change the result (the full path is not a no-op).
    float[][] clamped = run(k, t -> scalars(k, t, false).withClipValue(0.5f),
        (kk, p, g, st, s) -> kk.apply(p, g, st, 0, N, s));
    boolean differs = false;
    for (int j = 0; j < noClip.length && !differs; j++) {
      differs = !java.util.Arrays.equals(noClip[j], clamped[j]);
    }
    assertThat(differs).as("clipValue 0.5 changes the result").isTrue();
  }

  @ParameterizedTest
  @MethodSource("kernels")
  void theScaleOnlyLoopEqualsTheFullPrologueBitwise(UpdateKernel k) {
    // clipValue = +inf with gradScale != 1 (clip-norm only) may take a loop without the clamp
    // (AMSGrad does); with Float.MAX_VALUE it takes the full prologue. Same bits on finite data.
    float[][] scaled = run(k, t -> scalars(k, t, false).withGradScale(0.625f),
        (kk, p, g, st, s) -> kk.apply(p, g, st, 0, N, s));
    float[][] full = run(k, t -> scalars(k, t, false).withGradScale(0.625f)
            .withClipValue(Float.MAX_VALUE),
        (kk, p, g, st, s) -> kk.apply(p, g, st, 0, N, s));
    assertBitwiseEqual(scaled, full, k + " scale-only vs full prologue");
  }

  @Test
  void blockPartialsAreBitwiseIdenticalForAnyParallelismAndChunking() {
    float[] g = randomArray(7, N, 3f);
    for (float clip : new float[] {Float.POSITIVE_INFINITY, 1.5f}) {
      // Reference: each block summed on its own, combined in order.
      int blocks = ReductionBlocks.blockCount(N);
      assertThat(blocks).isEqualTo(6);
      double[] expected = new double[blocks];
      for (int b = 0; b < blocks; b++) {
        expected[b] = ReductionBlocks.sumOfSquares(
            g, b * ReductionBlocks.BLOCK, Math.min((b + 1) * ReductionBlocks.BLOCK, N), clip);
      }
      double total = ReductionBlocks.combine(expected);
      assertThat(ReductionBlocks.blockPartials(g, clip)).containsExactly(expected);
      for (int par : PARALLELISM) {
        for (int cb : CHUNK_BLOCKS) {
          ParallelApply pa = new ParallelApply(pool, par, cb);
          double[] got = pa.blockPartials(g, clip);
          for (int b = 0; b < blocks; b++) {
            assertThat(Double.doubleToRawLongBits(got[b]))
                .as("clip=%s par=%d chunk=%d block=%d", clip, par, cb, b)
                .isEqualTo(Double.doubleToRawLongBits(expected[b]));
          }
          assertThat(Double.doubleToRawLongBits(pa.sumOfSquares(g, clip)))
              .isEqualTo(Double.doubleToRawLongBits(total));
        }
      }
    }
  }

  @Test
  void shardedPartialsCombineToTheSameTotal() {
    // A tensor split across two owners at a block boundary: each computes its blocks' partials,
    // one party concatenates them in block order and combines.
    float[] g = randomArray(9, N, 1f);
    double[] whole = ReductionBlocks.blockPartials(g, Float.POSITIVE_INFINITY);
    int cutBlocks = 2;
    float[] first = java.util.Arrays.copyOfRange(g, 0, cutBlocks * ReductionBlocks.BLOCK);
    float[] second = java.util.Arrays.copyOfRange(g, cutBlocks * ReductionBlocks.BLOCK, N);
    double[] a = ReductionBlocks.blockPartials(first, Float.POSITIVE_INFINITY);
    double[] b = ReductionBlocks.blockPartials(second, Float.POSITIVE_INFINITY);
    double[] joined = new double[a.length + b.length];
    System.arraycopy(a, 0, joined, 0, a.length);
    System.arraycopy(b, 0, joined, a.length, b.length);
    assertThat(joined).containsExactly(whole);
    assertThat(ReductionBlocks.combine(joined)).isEqualTo(ReductionBlocks.combine(whole));
  }

  @Test
  void firstNonFiniteIsTheSameForAnyParallelismAndChunking() {
    float[] g = randomArray(3, N, 1f);
    assertThat(ReductionBlocks.firstNonFinite(g, 0, N)).isEqualTo(-1);
    g[30000] = Float.NEGATIVE_INFINITY; // in a later block
    g[40000] = Float.NaN;
    g[9000] = Float.POSITIVE_INFINITY; // the first one, in block 1
    for (int par : PARALLELISM) {
      for (int cb : CHUNK_BLOCKS) {
        ParallelApply pa = new ParallelApply(pool, par, cb);
        assertThat(pa.firstNonFinite(g)).as("par=%d chunk=%d", par, cb).isEqualTo(9000);
      }
    }
    assertThat(new ParallelApply(pool, 2).firstNonFinite(new float[0])).isEqualTo(-1);
  }

  @Test
  void chunksAreBlockAligned() {
    for (int par : PARALLELISM) {
      for (int cb : CHUNK_BLOCKS) {
        int chunk = new ParallelApply(pool, par, cb).chunkElements(N);
        assertThat(chunk % ReductionBlocks.BLOCK).isZero();
        assertThat(chunk).isPositive();
      }
    }
    // Automatic: 16M parameters on 2 threads make 8 chunks of 256 blocks.
    assertThat(new ParallelApply(pool, 2).chunkElements(1 << 24)).isEqualTo(256 * ReductionBlocks.BLOCK);
  }

  @Test
  void parallelApplyReachesEveryElementOnce() {
    // A counting kernel: every element must be visited exactly once, and chunks start on blocks.
    AtomicInteger misaligned = new AtomicInteger();
    UpdateKernel counter = new UpdateKernel() {
      @Override
      public List<String> stateSlots() {
        return List.of();
      }

      @Override
      public void apply(float[] p, float[] g, float[][] st, int from, int to, StepScalars s) {
        if (from % ReductionBlocks.BLOCK != 0 || (to % ReductionBlocks.BLOCK != 0 && to != p.length)) {
          misaligned.incrementAndGet();
        }
        for (int i = from; i < to; i++) {
          p[i] += 1f;
        }
      }
    };
    float[] p = new float[N];
    new ParallelApply(pool, 4, 1).apply(counter, p, new float[N], new float[0][], StepScalars.of(1, 1));
    assertThat(p).containsOnly(1f);
    assertThat(misaligned).hasValue(0);
  }

  @Test
  void failureIsRethrownAfterAllRunningChunksFinish() {
    UpdateKernel failing = new UpdateKernel() {
      @Override
      public List<String> stateSlots() {
        return List.of();
      }

      @Override
      public void apply(float[] p, float[] g, float[][] st, int from, int to, StepScalars s) {
        if (from >= 2 * ReductionBlocks.BLOCK) {
          throw new IllegalStateException("boom at " + from);
        }
      }
    };
    ParallelApply pa = new ParallelApply(pool, 3, 1);
    assertThatThrownBy(() -> pa.apply(failing, new float[N], new float[N], new float[0][], StepScalars.of(1, 1)))
        .isInstanceOf(IllegalStateException.class).hasMessageStartingWith("boom at ");
    // A mismatch is caught before any chunk runs.
    assertThatThrownBy(() -> pa.apply(new AdamKernel(0.9, 0.999, 1e-8, false, false),
        new float[N], new float[N], new float[1][], StepScalars.of(1, 1)))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void doesNotDeadlockInsideItsOwnSingleThreadExecutor() throws Exception {
    ExecutorService single = Executors.newSingleThreadExecutor();
    try {
      ParallelApply pa = new ParallelApply(single, 4, 1);
      SgdKernel k = new SgdKernel();
      float[] p = new float[N];
      float[] g = randomArray(5, N, 1f);
      Future<?> f = single.submit(() -> pa.apply(k, p, g, new float[0][], StepScalars.of(1, 1)));
      f.get(30, TimeUnit.SECONDS);
      for (int i = 0; i < N; i++) {
        assertThat(p[i]).isEqualTo(-g[i]);
      }
    } finally {
      single.shutdownNow();
    }
  }

  @Test
  void aShutDownExecutorLeavesTheWorkToTheCaller() {
    ExecutorService dead = Executors.newSingleThreadExecutor();
    dead.shutdown();
    float[] p = new float[N];
    float[] g = randomArray(5, N, 1f);
    new ParallelApply(dead, 4, 1).apply(new SgdKernel(), p, g, new float[0][], StepScalars.of(1, 1));
    for (int i = 0; i < N; i++) {
      assertThat(p[i]).isEqualTo(-g[i]);
    }
  }

  @Test
  void validation() {
    assertThatThrownBy(() -> new ParallelApply(pool, 0)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new ParallelApply(pool, 1, -1)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new ParallelApply(null, 1)).isInstanceOf(NullPointerException.class);
  }

  @Test
  void sumOfSquaresByHand() {
    // 3^2 + (-4)^2 + 0.5^2 = 25.25; clamped to +-2: 4 + 4 + 0.25 = 8.25.
    float[] g = {3, -4, 0.5f};
    assertThat(ReductionBlocks.sumOfSquares(g, 0, 3, Float.POSITIVE_INFINITY)).isEqualTo(25.25);
    assertThat(ReductionBlocks.sumOfSquares(g, 0, 3, 2f)).isEqualTo(8.25);
    assertThat(ReductionBlocks.sumOfSquares(g, 1, 2, 2f)).isEqualTo(4.0);
    assertThat(ReductionBlocks.sumOfSquares(new float[] {1, Float.NaN}, 0, 2, 2f)).isNaN();
    assertThat(ReductionBlocks.sumOfSquares(new float[] {Float.POSITIVE_INFINITY}, 0, 1, 2f)).isEqualTo(4.0);
    // Accumulated in double: 1e20f squared overflows float but not double.
    assertThat(ReductionBlocks.sumOfSquares(new float[] {1e20f}, 0, 1, Float.POSITIVE_INFINITY))
        .isCloseTo(1e40, org.assertj.core.api.Assertions.withinPercentage(1e-5));
    assertThat(ReductionBlocks.combine(new double[] {1, 2, 3.5})).isEqualTo(6.5);
    assertThat(ReductionBlocks.combine(new double[0])).isZero();
  }

  @Test
  void firstNonFiniteByHand() {
    float[] g = {0, 1, Float.MAX_VALUE, -Float.MAX_VALUE, Float.NaN, Float.POSITIVE_INFINITY};
    assertThat(ReductionBlocks.firstNonFinite(g, 0, 4)).isEqualTo(-1);
    assertThat(ReductionBlocks.firstNonFinite(g, 0, 6)).isEqualTo(4);
    assertThat(ReductionBlocks.firstNonFinite(g, 5, 6)).isEqualTo(5);
    assertThat(ReductionBlocks.firstNonFinite(new float[] {Float.NEGATIVE_INFINITY}, 0, 1)).isZero();
  }

  @Test
  void blockGeometry() {
    int b = ReductionBlocks.BLOCK;
    assertThat(Integer.bitCount(b)).isEqualTo(1);
    assertThat(ReductionBlocks.blockCount(0)).isZero();
    assertThat(ReductionBlocks.blockCount(1)).isEqualTo(1);
    assertThat(ReductionBlocks.blockCount(b)).isEqualTo(1);
    assertThat(ReductionBlocks.blockCount(b + 1)).isEqualTo(2);
    assertThat(ReductionBlocks.blockCount(Integer.MAX_VALUE)).isEqualTo((int) ((Integer.MAX_VALUE + (long) b - 1) / b));
    assertThat(ReductionBlocks.blockEnd(1, b + 5)).isEqualTo(b + 5);
    assertThat(ReductionBlocks.blockEnd(0, b + 5)).isEqualTo(b);
    List<Integer> starts = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      starts.add(ReductionBlocks.blockStart(i));
    }
    assertThat(starts).containsExactly(0, b, 2 * b);
  }
}
