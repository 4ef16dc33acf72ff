package dev.shardopt.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class MlpWithBatchNormTest {
  private static final int H = 6;
  private static final int ROWS = 5;

  private static Map<String, double[]> randomParams(MlpWithBatchNorm m, Random rnd) {
    Map<String, double[]> p = new LinkedHashMap<>();
    for (Map.Entry<String, long[]> e : m.shapes().entrySet()) {
      long n = 1;
      for (long d : e.getValue()) {
        n *= d;
      }
      double[] v = new double[(int) n];
      for (int i = 0; i < v.length; i++) {
        v[i] = e.getKey().equals(MlpWithBatchNorm.BN1_GAMMA) ? 1 + 0.3 * rnd.nextGaussian() : 0.4 * rnd.nextGaussian();
      }
      p.put(e.getKey(), v);
    }
    return p;
  }

  private static double[] randomInputs(Random rnd) {
    double[] x = new double[ROWS * MlpWithBatchNorm.INPUTS];
    for (int i = 0; i < x.length; i++) {
      x[i] = rnd.nextDouble();
    }
    return x;
  }

  /**
   * Central differences in float64 with h = 1e-5 have truncation error O(h²·f''') ~ 1e-10 and rounding error
   * ~ 1e-16/h ~ 1e-11, so autodiff and finite differences must agree to about 1e-8; we allow
   * 1e-6·max(1, |g|). The check runs through batch norm's batch statistics, so a backward pass that treated
   * the mean and variance as constants would fail it by far more (the terms it drops are O(1)).
   */
  @Test
  void gradientsMatchFiniteDifferencesInFloat64() {
    Random rnd = new Random(7);
    MlpWithBatchNorm m = new MlpWithBatchNorm(H, DataType.DOUBLE);
    Map<String, double[]> params = randomParams(m, rnd);
    double[] x = randomInputs(rnd);
    int[] y = {3, 1, 4, 1, 5};
    m.setParametersDouble(params);
    MlpWithBatchNorm.StepResult r = m.trainStepDouble(x, y);
    assertThat(r.loss()).isCloseTo(m.lossDouble(x, y), org.assertj.core.data.Offset.offset(1e-12));

    double h = 1e-5;
    int checked = 0;
    for (String name : MlpWithBatchNorm.PARAMETERS) {
      double[] v = params.get(name);
      float[] g = r.gradients().get(name);
      assertThat(g).hasSize(v.length);
      for (int k = 0; k < 4; k++) {
        int i = (k * 7919 + 3) % v.length;
        double saved = v[i];
        v[i] = saved + h;
        m.setParametersDouble(params);
        double up = m.lossDouble(x, y);
        v[i] = saved - h;
        m.setParametersDouble(params);
        double down = m.lossDouble(x, y);
        v[i] = saved;
        double fd = (up - down) / (2 * h);
        // the gradients come back as float32 (the server's type): allow its rounding too
        double tol = 1e-6 * Math.max(1, Math.abs(fd));
        assertThat((double) g[i]).as("d loss / d %s[%d]", name, i).isCloseTo(fd, org.assertj.core.data.Offset.offset(tol));
        checked++;
      }
    }
    assertThat(checked).isEqualTo(24);
  }

  /** β's gradient is the column sums of dL/dy, and batch norm makes fc1.bias's gradient exactly 0. */
  @Test
  void batchNormCancelsTheFirstBiasGradient() {
    Random rnd = new Random(11);
    MlpWithBatchNorm m = new MlpWithBatchNorm(H, DataType.DOUBLE);
    m.setParametersDouble(randomParams(m, rnd));
    MlpWithBatchNorm.StepResult r = m.trainStepDouble(randomInputs(rnd), new int[] {0, 1, 2, 3, 4});
    for (float g : r.gradients().get(MlpWithBatchNorm.FC1_BIAS)) {
      assertThat((double) g).isCloseTo(0, org.assertj.core.data.Offset.offset(1e-9));
    }
  }

  @Test
  void inferenceWithTheBatchStatisticsEqualsTrainingMode() {
    Random rnd = new Random(3);
    MlpWithBatchNorm m = new MlpWithBatchNorm(H, DataType.DOUBLE);
    m.setParametersDouble(randomParams(m, rnd));
    double[] x = randomInputs(rnd);
    int[] y = {0, 0, 1, 1, 2};
    MlpWithBatchNorm.StepResult r = m.trainStepDouble(x, y);
    double[] train = m.trainLogitsDouble(x, y);
    float[] xf = new float[x.length];
    for (int i = 0; i < x.length; i++) {
      xf[i] = (float) x[i];
    }
    m.setParametersDouble(randomParamsCopy(m, new Random(3)));
    float[] eval = m.logits(xf, ROWS, r.batchMean(), r.batchVariance());
    for (int i = 0; i < train.length; i++) {
      assertThat((double) eval[i]).isCloseTo(train[i], org.assertj.core.data.Offset.offset(1e-5));
    }
  }

  private static Map<String, double[]> randomParamsCopy(MlpWithBatchNorm m, Random rnd) {
    return randomParams(m, rnd); // the same seed gives the same parameters as the test's
  }

  @Test
  void float32GradientsAgreeWithFloat64() {
    Random rnd = new Random(5);
    MlpWithBatchNorm d = new MlpWithBatchNorm(H, DataType.DOUBLE);
    MlpWithBatchNorm f = new MlpWithBatchNorm(H, DataType.FLOAT);
    Map<String, double[]> p = randomParams(d, rnd);
    double[] x = randomInputs(rnd);
    int[] y = {9, 8, 7, 6, 5};
    d.setParametersDouble(p);
    f.setParametersDouble(p);
    MlpWithBatchNorm.StepResult rd = d.trainStepDouble(x, y);
    MlpWithBatchNorm.StepResult rf = f.trainStepDouble(x, y);
    assertThat(rf.loss()).isCloseTo(rd.loss(), org.assertj.core.data.Offset.offset(1e-5));
    for (String name : MlpWithBatchNorm.PARAMETERS) {
      float[] a = rd.gradients().get(name);
      float[] b = rf.gradients().get(name);
      for (int i = 0; i < a.length; i++) {
        assertThat((double) b[i]).as("%s[%d]", name, i).isCloseTo(a[i], org.assertj.core.data.Offset.offset(1e-4));
      }
    }
  }

  @Test
  void tensorDefsMatchTheGraph() {
    MlpWithBatchNorm m = new MlpWithBatchNorm(H);
    var defs = MlpWithBatchNorm.tensorDefs(H, 1);
    assertThat(defs).extracting(dev.shardopt.client.TensorDef::name).containsExactlyElementsOf(MlpWithBatchNorm.PARAMETERS);
    for (var t : defs) {
      assertThat(t.shape()).containsExactly(m.shapes().get(t.name()));
    }
    assertThat(defs.get(2).initializer().getConstant().getValue()).isEqualTo(1.0);
  }

  /**
   * {@link MlpWithBatchNorm#parameterArrays} are the graph's live variables (the trainer pulls into them):
   * values written there with a plain ND4J assign give bitwise the loss and gradients of the same values
   * set through {@link MlpWithBatchNorm#setParameters}, and different values give a different loss.
   */
  @Test
  void theParameterArraysAreTheGraphsVariables() {
    Random rnd = new Random(11);
    MlpWithBatchNorm viaSet = new MlpWithBatchNorm(H);
    MlpWithBatchNorm viaArrays = new MlpWithBatchNorm(H);
    Map<String, float[]> p = new LinkedHashMap<>();
    randomParams(viaSet, rnd).forEach((name, v) -> {
      float[] f = new float[v.length];
      for (int i = 0; i < v.length; i++) {
        f[i] = (float) v[i];
      }
      p.put(name, f);
    });
    viaSet.setParameters(p);
    Map<String, INDArray> arrays = viaArrays.parameterArrays();
    assertThat(arrays.keySet()).containsExactlyElementsOf(MlpWithBatchNorm.PARAMETERS);
    p.forEach((name, v) -> arrays.get(name).assign(Nd4j.createFromArray(v).reshape(viaArrays.shapes().get(name))));
    float[] x = new float[ROWS * MlpWithBatchNorm.INPUTS];
    for (int i = 0; i < x.length; i++) {
      x[i] = rnd.nextFloat();
    }
    int[] y = {3, 1, 4, 1, 5};
    MlpWithBatchNorm.StepResult a = viaSet.trainStep(x, y);
    MlpWithBatchNorm.StepResult b = viaArrays.trainStep(x, y);
    assertThat(Double.doubleToRawLongBits(b.loss())).isEqualTo(Double.doubleToRawLongBits(a.loss()));
    for (String name : MlpWithBatchNorm.PARAMETERS) {
      assertThat(b.gradients().get(name)).as(name).containsExactly(a.gradients().get(name));
    }
    // class 0's bias alone (a shift of every logit would leave softmax's loss as it is)
    INDArray b2 = arrays.get(MlpWithBatchNorm.FC2_BIAS);
    b2.putScalar(0, b2.getFloat(0) + 1f);
    assertThat(viaArrays.trainStep(x, y).loss()).isNotEqualTo(a.loss());
  }

  @Test
  void rejectsBadInput() {
    MlpWithBatchNorm m = new MlpWithBatchNorm(H);
    assertThatThrownBy(() -> m.trainStep(new float[64], new int[] {1})).hasMessageContaining("at least 2 rows");
    assertThatThrownBy(() -> m.trainStep(new float[128], new int[] {1, 10})).hasMessageContaining("not in 0..9");
    assertThatThrownBy(() -> m.setParameters(Map.of())).hasMessageContaining("no values for tensor 'fc1.weight'");
  }
}
