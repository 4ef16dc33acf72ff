package dev.shardopt.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.shardopt.v1.Initializer;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class InitialValuesTest {
  private static final int N = 100_000;

  private static Initializer uniform(double low, double high, long seed) {
    return Initializer.newBuilder()
        .setUniform(Initializer.Uniform.newBuilder().setLow(low).setHigh(high).setSeed(seed)).build();
  }

  private static Initializer normal(double mean, double std, long seed) {
    return Initializer.newBuilder()
        .setNormal(Initializer.Normal.newBuilder().setMean(mean).setStd(std).setSeed(seed)).build();
  }

  private static Initializer constant(double v) {
    return Initializer.newBuilder().setConstant(Initializer.Constant.newBuilder().setValue(v)).build();
  }

  private static float[] fill(Initializer init, long offset, int n) {
    float[] out = new float[n];
    Arrays.fill(out, Float.NaN); // every element must be written
    InitialValues.fill(init, offset, out);
    return out;
  }

  private static double mean(float[] v) {
    double s = 0;
    for (float x : v) {
      s += x;
    }
    return s / v.length;
  }

  private static double std(float[] v) {
    double m = mean(v);
    double s = 0;
    for (float x : v) {
      s += (x - m) * (x - m);
    }
    return Math.sqrt(s / (v.length - 1));
  }

  private static void assertBitwiseEqual(float[] actual, float[] expected) {
    assertThat(actual).hasSameSizeAs(expected);
    for (int i = 0; i < expected.length; i++) {
      if (Float.floatToRawIntBits(actual[i]) != Float.floatToRawIntBits(expected[i])) {
        throw new AssertionError("element " + i + ": " + actual[i] + " != " + expected[i]);
      }
    }
  }

  // ---------------------------------------------------------------- constant kinds

  @Test
  void zerosUploadAndUnsetFillWithZero() {
    for (Initializer init : new Initializer[] {
        Initializer.newBuilder().setZeros(Initializer.Zeros.getDefaultInstance()).build(),
        Initializer.newBuilder().setUpload(Initializer.Upload.getDefaultInstance()).build(),
        Initializer.getDefaultInstance()}) {
      float[] v = fill(init, 12_345, 1000);
      for (float x : v) {
        assertThat(Float.floatToRawIntBits(x)).as("+0.0 for %s", init.getKindCase()).isZero();
      }
    }
  }

  @Test
  void constantFillsTheValueRoundedToFloat() {
    float[] v = fill(constant(2.5), 7, 333);
    assertThat(v).containsOnly(2.5f);
    assertThat(fill(constant(0.1), 0, 10)).containsOnly(0.1f); // (float) 0.1, rounded once
    assertThat(fill(constant(-3), 1L << 40, 3)).containsOnly(-3f);
  }

  @Test
  void emptyShardIsFine() {
    assertThatCode(() -> InitialValues.fill(uniform(0, 1, 1), 5, new float[0])).doesNotThrowAnyException();
    assertThatCode(() -> InitialValues.fill(normal(0, 1, 1), 5, new float[0])).doesNotThrowAnyException();
  }

  // ---------------------------------------------------------------- uniform

  @Test
  void uniformValuesLieInTheInterval() {
    double low = -0.5;
    double high = 0.25;
    float[] v = fill(uniform(low, high, 42), 0, N);
    for (float x : v) {
      assertThat((double) x).isGreaterThanOrEqualTo(low).isLessThan(high);
    }
    // U(low, high): mean -0.125, sd 0.75/sqrt(12) = 0.2165; standard error of the mean over 1e5 values
    // = 0.000685, so 0.004 is about 6 standard errors; the sample sd has standard error ~ 0.0005.
    assertThat(mean(v)).isCloseTo(-0.125, within(0.004));
    assertThat(std(v)).isCloseTo(0.75 / Math.sqrt(12), within(0.003));
    // a tenth of the values in each tenth of the interval: binomial sd sqrt(0.1 * 0.9 / 1e5) = 0.00095
    int[] bins = new int[10];
    for (float x : v) {
      bins[(int) Math.min(9, Math.floor((x - low) / (high - low) * 10))]++;
    }
    for (int b : bins) {
      assertThat(b / (double) N).isCloseTo(0.1, within(0.006));
    }
  }

  @Test
  void uniformWithLowEqualToHighIsConstant() {
    assertThat(fill(uniform(1.5, 1.5, 9), 100, 1000)).containsOnly(1.5f);
  }

  @Test
  void uniformWithANegativeSeed() {
    // seed is a uint64 in the proto: values above Long.MAX_VALUE arrive as negative longs
    float[] v = fill(uniform(2, 3, -8_000_000_000_000_000_000L), 0, 10_000);
    for (float x : v) {
      assertThat(x).isGreaterThanOrEqualTo(2f).isLessThan(3f);
    }
    assertThat(mean(v)).isCloseTo(2.5, within(0.02)); // se 0.0029
  }

  @Test
  void uniformNeverReachesHighAfterRoundingToFloat() {
    float[] v = fill(uniform(0, 1, 42), 36_493_847L, 1);
    assertThat(v[0]).isLessThan(1f);
  }

  // ---------------------------------------------------------------- normal

  @Test
  void normalHasTheRequestedMeanAndStd() {
    double mean = 2.0;
    double sd = 3.0;
    float[] v = fill(normal(mean, sd, 7), 0, N);
    // standard error of the mean: 3 / sqrt(1e5) = 0.0095 -> tolerance 0.05 (~5 se);
    // standard error of the sample sd: 3 / sqrt(2e5) = 0.0067 -> tolerance 0.035 (~5 se).
    assertThat(mean(v)).isCloseTo(mean, within(0.05));
    assertThat(std(v)).isCloseTo(sd, within(0.035));
    // 68.27% within one sd, 95.45% within two: binomial se 0.0015 and 0.00066
    long in1 = 0;
    long in2 = 0;
    for (float x : v) {
      assertThat(Float.isFinite(x)).isTrue();
      double z = Math.abs((x - mean) / sd);
      in1 += z < 1 ? 1 : 0;
      in2 += z < 2 ? 1 : 0;
    }
    assertThat(in1 / (double) N).isCloseTo(0.6827, within(0.008));
    assertThat(in2 / (double) N).isCloseTo(0.9545, within(0.004));
  }

  @Test
  void normalOfAnotherShardOfTheTensorHasTheSameDistribution() {
    // elements far into the tensor, standard normal
    float[] v = fill(normal(0, 1, 123), 5_000_000_000L, N);
    assertThat(mean(v)).isCloseTo(0, within(0.016)); // se 0.0032
    assertThat(std(v)).isCloseTo(1, within(0.012)); // se 0.0022
  }

  @Test
  void normalWithZeroStdIsTheMean() {
    assertThat(fill(normal(-1.25, 0, 3), 0, 1000)).containsOnly(-1.25f);
  }

  // ---------------------------------------------------------------- sharding independence

  @Test
  void fillingInPiecesEqualsFillingAtOnceBitwise() {
    int n = 3 * 8192 + 77;
    for (Initializer init : new Initializer[] {uniform(-0.1, 0.1, 5), normal(0.5, 0.02, 5), uniform(0, 1, -1),
        normal(0, 1, Long.MIN_VALUE)}) {
      float[] whole = fill(init, 0, n);
      for (int k : new int[] {0, 1, 2, 8191, 8192, 10_000, n - 1, n}) {
        float[] joined = new float[n];
        float[] head = fill(init, 0, k);
        float[] tail = fill(init, k, n - k);
        System.arraycopy(head, 0, joined, 0, k);
        System.arraycopy(tail, 0, joined, k, n - k);
        assertBitwiseEqual(joined, whole);
      }
      // element by element at its own offset
      for (int i = 0; i < n; i += 997) {
        assertThat(Float.floatToRawIntBits(fill(init, i, 1)[0])).as("element %d", i)
            .isEqualTo(Float.floatToRawIntBits(whole[i]));
      }
    }
  }

  @Test
  void fillingAtAnOffsetEqualsThatPartOfALargerFill() {
    Initializer init = normal(0, 1, 99);
    float[] big = fill(init, 1_000_000, 50_000);
    float[] part = fill(init, 1_020_000, 123);
    assertBitwiseEqual(part, Arrays.copyOfRange(big, 20_000, 20_123));
  }

  @Test
  void sameSeedReproducesDifferentSeedsDiffer() {
    for (boolean isNormal : new boolean[] {false, true}) {
      float[] a = fill(isNormal ? normal(0, 1, 1) : uniform(0, 1, 1), 0, 10_000);
      float[] again = fill(isNormal ? normal(0, 1, 1) : uniform(0, 1, 1), 0, 10_000);
      float[] b = fill(isNormal ? normal(0, 1, 2) : uniform(0, 1, 2), 0, 10_000);
      assertBitwiseEqual(again, a);
      int same = 0;
      for (int i = 0; i < a.length; i++) {
        same += a[i] == b[i] ? 1 : 0;
      }
      assertThat(same).as("equal elements of seeds 1 and 2 (normal=%s)", isNormal).isLessThan(10);
    }
  }

  @Test
  void neighbouringElementsAreNotCorrelated() {
    // lag-1 correlation of independent values: 0 with standard error 1/sqrt(n) = 0.0032
    float[] v = fill(uniform(0, 1, 11), 0, N);
    double m = mean(v);
    double num = 0;
    double den = 0;
    for (int i = 0; i < v.length; i++) {
      den += (v[i] - m) * (v[i] - m);
      if (i + 1 < v.length) {
        num += (v[i] - m) * (v[i + 1] - m);
      }
    }
    assertThat(num / den).isCloseTo(0, within(0.016));
  }

  // ---------------------------------------------------------------- validate

  private static void assertInvalid(Initializer init, String... fragments) {
    assertThatThrownBy(() -> InitialValues.validate("enc.w", init))
        .isExactlyInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'enc.w'")
        .hasMessageContainingAll(fragments);
  }

  @Test
  void negativeStdIsRefused() {
    assertInvalid(normal(0, -1, 1), "normal std", ">= 0", "-1.0");
  }

  @Test
  void nonFiniteNormalParametersAreRefused() {
    assertInvalid(normal(0, Double.NaN, 1), "normal std", "NaN");
    assertInvalid(normal(0, Double.POSITIVE_INFINITY, 1), "normal std", "Infinity");
    assertInvalid(normal(Double.NaN, 1, 1), "normal mean", "finite");
  }

  @Test
  void lowAboveHighIsRefused() {
    assertInvalid(uniform(2, 1, 1), "low must be <= high", "2.0", "1.0");
  }

  @Test
  void nonFiniteUniformBoundsAndConstantAreRefused() {
    assertInvalid(uniform(Double.NEGATIVE_INFINITY, 1, 1), "uniform low", "finite");
    assertInvalid(uniform(0, Double.NaN, 1), "uniform high", "finite");
    assertInvalid(constant(Double.NaN), "constant value", "finite");
  }

  @Test
  void validParametersPass() {
    assertThatCode(() -> {
      InitialValues.validate("t", normal(0, 0, 1));
      InitialValues.validate("t", normal(-5, 2, 1));
      InitialValues.validate("t", uniform(1, 1, 1));
      InitialValues.validate("t", uniform(-1, 1, 1));
      InitialValues.validate("t", constant(-0.0));
      InitialValues.validate("t", Initializer.getDefaultInstance());
      InitialValues.validate("t", Initializer.newBuilder().setZeros(Initializer.Zeros.getDefaultInstance()).build());
      InitialValues.validate("t", Initializer.newBuilder().setUpload(Initializer.Upload.getDefaultInstance()).build());
    }).doesNotThrowAnyException();
  }
}
