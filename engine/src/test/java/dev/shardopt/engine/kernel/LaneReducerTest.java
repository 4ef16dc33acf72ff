package dev.shardopt.engine.kernel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Both reduction implementations (plain loops and vector API) against the order's definition written
 * element-major (lane {@code (i - from) % 64}, Math.min/max clamp), bit for bit, over lengths that
 * cut the lanes, the vector groups and the blocks everywhere, and values that probe the clamp
 * (NaN with payloads, infinities, subnormals, the float extremes).
 */
class LaneReducerTest {

  private static final float[] CLIPS = {
    Float.POSITIVE_INFINITY, 1f, 0.5f, Float.MAX_VALUE, Float.MIN_VALUE, 3e-39f, 1e30f
  };
  private static final int[] LENGTHS = {
    0, 1, 7, 8, 15, 63, 64, 65, 127, 128, 129, 511, 512, 513, 1000, 8191, 8192, 8193, 3 * 8192 + 77
  };

  /** The definition: each term's lane is its distance from {@code from} mod 64; then the tree. */
  private static double definition(float[] g, int from, int to, float c) {
    double[] lane = new double[64];
    for (int i = from; i < to; i++) {
      double d = Math.min(Math.max(g[i], -c), c);
      lane[(i - from) % 64] += d * d;
    }
    for (int w = 32; w >= 1; w /= 2) {
      for (int j = 0; j < w; j++) {
        lane[j] = lane[j] + lane[j + w];
      }
    }
    return lane[0];
  }

  private static List<LaneReducer> implementations() {
    List<LaneReducer> out = new ArrayList<>();
    out.add(new ScalarLaneReducer());
    if (ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent() && VectorLaneReducer.supported()) {
      out.add(new VectorLaneReducer());
      out.add(new LengthSwitchedLaneReducer(new ScalarLaneReducer(), new VectorLaneReducer(),
          LaneReducers.MIN_VECTOR_LENGTH));
    }
    return out;
  }

  private static float[] values(long seed, int n, boolean specials) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] special = {
      Float.MAX_VALUE, -Float.MAX_VALUE, Float.MIN_VALUE, -Float.MIN_NORMAL, 1e-40f, -0f, 0f,
      0x1p27f, 1f, -1f, 0.5f, 1e30f, -1e19f
    };
    float[] g = new float[n];
    for (int i = 0; i < n; i++) {
      g[i] = specials && r.nextInt(8) == 0
          ? special[r.nextInt(special.length)]
          : (float) (r.nextGaussian() * Math.pow(10, r.nextInt(-3, 4)));
    }
    return g;
  }

  private static void assertSameBits(double got, double want, String what) {
    if (Double.isNaN(want)) {
      assertThat(got).as(what).isNaN();
    } else {
      assertThat(Double.doubleToRawLongBits(got)).as(what + ": %s vs %s", got, want)
          .isEqualTo(Double.doubleToRawLongBits(want));
    }
  }

  @Test
  void thisJvmUsesTheVectorImplementationWhereTheModuleIsLoaded() {
    // The build passes --add-modules=jdk.incubator.vector to every test JVM (parent pom).
    assertThat(ModuleLayer.boot().findModule("jdk.incubator.vector"))
        .as("run the tests with %s (the parent pom's surefire argLine)", LaneReducers.VECTOR_MODULE_OPTION)
        .isPresent();
    assumeTrue(VectorLaneReducer.supported(), "this CPU's vectors do not fit the lane layout");
    assertThat(ReductionBlocks.defaultReducer()).isInstanceOf(LengthSwitchedLaneReducer.class);
    assertThat(ReductionBlocks.defaultReducer().name())
        .isEqualTo(new VectorLaneReducer().name() + " (plain loop below 4096 elements)");
    assertThat(new ParallelApply(Executors.newSingleThreadExecutor(), 1).reducer())
        .isInstanceOf(LengthSwitchedLaneReducer.class);
  }

  @Test
  void everyImplementationComputesTheDefinitionBitwise() {
    List<LaneReducer> impls = implementations();
    int cases = 0;
    for (boolean specials : new boolean[] {false, true}) {
      float[] g = values(specials ? 11 : 12, 4 * 8192, specials);
      for (int n : LENGTHS) {
        for (int from : new int[] {0, 1, 3, 17, 64}) {
          int to = from + n;
          for (float c : CLIPS) {
            double want = definition(g, from, to, c);
            for (LaneReducer impl : impls) {
              String what = impl.name() + " n=" + n + " from=" + from + " clip=" + c + " specials=" + specials;
              assertSameBits(ReductionBlocks.sumOfSquares(impl, g, from, to, c), want, what);
              cases++;
            }
          }
        }
      }
    }
    assertThat(cases).isEqualTo(impls.size() * 2 * LENGTHS.length * 5 * CLIPS.length);
  }

  @Test
  void anyNonFiniteFindsOneSpecialValueAtEveryPositionOfEveryShortRange() {
    // Every offset against the unrolled loop's 8 sums and its tail; the largest finite values, the
    // smallest subnormal and both zeros are finite and must not be flagged.
    float[] finite = {Float.MAX_VALUE, -Float.MAX_VALUE, Float.MIN_VALUE, -Float.MIN_VALUE, 0f, -0f, 1f, -3.5e-20f};
    float[] bad = {Float.NaN, Float.intBitsToFloat(0xffc01234), Float.intBitsToFloat(0x7f800001),
        Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY};
    int cases = 0;
    for (LaneReducer impl : implementations()) {
      for (int from = 0; from < 9; from++) {
        for (int n = 0; n <= 41; n++) {
          float[] g = new float[from + n + 3];
          for (int i = 0; i < g.length; i++) {
            g[i] = finite[(i * 5 + n) % finite.length];
          }
          assertThat(impl.anyNonFinite(g, from, from + n)).as("%s finite from=%d n=%d", impl.name(), from, n).isFalse();
          for (int at = 0; at < n; at++) {
            float[] h = g.clone();
            h[from + at] = bad[(at + n) % bad.length];
            assertThat(impl.anyNonFinite(h, from, from + n)).as("%s %s at %d of [%d, %d)", impl.name(), h[from + at],
                from + at, from, from + n).isTrue();
            // Outside the range it does not count.
            assertThat(impl.anyNonFinite(h, from + at + 1, from + n)).isFalse();
            cases++;
          }
        }
      }
    }
    assertThat(cases).isEqualTo(implementations().size() * 9 * (41 * 42 / 2));
  }

  @Test
  void nonFiniteValuesPropagateAsTheDefinitionSays() {
    for (LaneReducer impl : implementations()) {
      for (int n : new int[] {64, 100, 8192}) {
        for (float bad : new float[] {Float.NaN, Float.intBitsToFloat(0xffc01234), Float.POSITIVE_INFINITY,
            Float.NEGATIVE_INFINITY}) {
          for (int at : new int[] {0, 5, 63, n - 1}) {
            float[] g = values(at + 7L * n, n, true);
            g[at] = bad;
            for (float c : new float[] {Float.POSITIVE_INFINITY, 2f}) {
              double got = ReductionBlocks.sumOfSquares(impl, g, 0, n, c);
              String what = impl.name() + " " + bad + " at " + at + " of " + n + " clip=" + c;
              if (Float.isNaN(bad)) {
                assertThat(got).as(what).isNaN();
              } else if (c == Float.POSITIVE_INFINITY) {
                assertThat(got).as(what).isEqualTo(Double.POSITIVE_INFINITY);
              } else {
                assertThat(got).as(what).isFinite();
                assertSameBits(got, definition(g, 0, n, c), what);
              }
              assertThat(impl.anyNonFinite(g, 0, n)).as(what).isTrue();
              assertThat(impl.anyNonFinite(g, 0, at)).as(what + ", before it").isFalse();
              assertThat(impl.anyNonFinite(g, at + 1, n)).as(what + ", after it").isFalse();
              assertThat(ReductionBlocks.firstNonFinite(impl, g, 0, n)).as(what).isEqualTo(at);
            }
          }
        }
      }
    }
  }

  @Test
  void theLargestFiniteBlockIsFiniteAndNotFlagged() {
    // 8192 terms of MAX_VALUE^2 (about 1.16e77 each) stay far below Double.MAX_VALUE: the one-pass
    // reduction may take a finite block sum to mean finite elements.
    float[] g = new float[ReductionBlocks.BLOCK];
    Arrays.fill(g, -Float.MAX_VALUE);
    for (LaneReducer impl : implementations()) {
      double[] out = new double[1];
      assertThat(ReductionBlocks.reduceBlocks(impl, g, Float.POSITIVE_INFINITY, out, 0, 1)).isEqualTo(-1);
      assertThat(out[0]).isEqualTo(definition(g, 0, g.length, Float.POSITIVE_INFINITY)).isFinite();
      assertThat(impl.anyNonFinite(g, 0, g.length)).isFalse();
    }
  }

  @Test
  void reduceBlocksGivesTheBlockPartialsAndTheFirstNonFiniteInOnePass() throws Exception {
    int n = 5 * ReductionBlocks.BLOCK + 999;
    float[] g = values(5, n, true);
    ExecutorService pool = Executors.newFixedThreadPool(3);
    try {
      for (LaneReducer impl : implementations()) {
        for (float c : new float[] {Float.POSITIVE_INFINITY, 1f}) {
          double[] want = new double[ReductionBlocks.blockCount(n)];
          for (int b = 0; b < want.length; b++) {
            want[b] = definition(g, ReductionBlocks.blockStart(b), ReductionBlocks.blockEnd(b, n), c);
          }
          for (int par : new int[] {1, 2, 4}) {
            for (int chunkBlocks : new int[] {0, 1, 2}) {
              ParallelApply pa = new ParallelApply(pool, par, chunkBlocks, impl);
              double[] got = new double[want.length];
              assertThat(pa.reduce(g, c, got)).isEqualTo(-1);
              for (int b = 0; b < want.length; b++) {
                assertSameBits(got[b], want[b], impl.name() + " clip=" + c + " par=" + par + " block " + b);
              }
            }
          }
          // An infinity in block 3 and a NaN in block 4: the first one wins, under a clamp as well
          // (where the clamped sum itself stays finite).
          float[] h = g.clone();
          h[4 * ReductionBlocks.BLOCK + 10] = Float.NaN;
          h[3 * ReductionBlocks.BLOCK + 4321] = Float.NEGATIVE_INFINITY;
          for (int par : new int[] {1, 3}) {
            ParallelApply pa = new ParallelApply(pool, par, 1, impl);
            assertThat(pa.reduce(h, c, new double[want.length]))
                .as("%s clip=%s par=%d", impl.name(), c, par)
                .isEqualTo(3 * ReductionBlocks.BLOCK + 4321);
            assertThat(pa.firstNonFinite(h)).isEqualTo(3 * ReductionBlocks.BLOCK + 4321);
          }
        }
      }
    } finally {
      pool.shutdownNow();
      assertThat(pool.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
    }
  }
}
