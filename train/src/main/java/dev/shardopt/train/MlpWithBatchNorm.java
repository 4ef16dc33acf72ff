package dev.shardopt.train;

import dev.shardopt.client.Initializers;
import dev.shardopt.client.TensorDef;
import dev.shardopt.client.Tensors;
import dev.shardopt.client.nd4j.TensorArrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.api.OutAndGrad;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The digits classifier as an ND4J SameDiff graph, built once and reused every step:
 *
 * <pre>
 *   x [B,64] → fc1 (x·W1 + b1, W1 [64,H]) → batch norm (γ, β; statistics of the batch) → ReLU
 *            → fc2 (·W2 + b2, W2 [H,10]) → softmax cross-entropy, the mean over the B rows
 * </pre>
 *
 * <p>The dense layers are ND4J's fused {@code xw_plus_b} ({@code sd.nn.linear}) and the loss its
 * {@code softmax_cross_entropy_loss} (one op each instead of three or four: SameDiff's cost on these tiny
 * matrices is mostly per-op overhead).
 *
 * <p>The trainable tensors are SameDiff variables named as the parameter server's tensors
 * ({@link #FC1_WEIGHT} … {@link #FC2_BIAS}); the trainer pulls the parameters into their arrays
 * ({@link #parameterArrays}) before each step, and {@link #trainStep} returns the gradient of the loss with
 * respect to each of them from {@code SameDiff.calculateGradientsAndOutputs} (reverse-mode autodiff),
 * with the loss and the batch's per-feature mean and biased variance (for the running statistics) from
 * the same pass. Weights are stored {@code [in, out]} (so {@code x·W}), row-major.
 *
 * <p>Batch normalization is written out with elementary ops rather than ND4J's {@code batchnorm} op, so
 * that autodiff differentiates through the batch mean and variance exactly as in training mode:
 * {@code μ = mean(z)}, {@code σ² = mean((z-μ)²)} (biased), {@code ẑ = (z-μ)/√(σ²+ε)},
 * {@code y = γ·ẑ + β}, ε = {@value #BN_EPS}. The running statistics are not SameDiff variables and not
 * trained; the same graph has an inference branch ({@link #predict}) that normalizes with given running
 * statistics instead (see {@link BatchNormStatistics} for where those live).
 *
 * <p>Not thread-safe: one instance per trainer thread. {@link DataType#DOUBLE} is for gradient checks;
 * training uses {@link DataType#FLOAT}, the parameter server's type.
 */
public final class MlpWithBatchNorm {
  public static final int INPUTS = 64;
  public static final int CLASSES = 10;
  public static final double BN_EPS = 1e-5;

  public static final String FC1_WEIGHT = "fc1.weight";
  public static final String FC1_BIAS = "fc1.bias";
  public static final String BN1_GAMMA = "bn1.gamma";
  public static final String BN1_BETA = "bn1.beta";
  public static final String FC2_WEIGHT = "fc2.weight";
  public static final String FC2_BIAS = "fc2.bias";

  /** The trainable tensors, in model order. */
  public static final List<String> PARAMETERS =
      List.of(FC1_WEIGHT, FC1_BIAS, BN1_GAMMA, BN1_BETA, FC2_WEIGHT, FC2_BIAS);

  private static final String X = "x";
  private static final String Y = "y";
  private static final String RUN_MEAN = "runMean";
  private static final String RUN_VAR = "runVar";
  private static final String LOSS = "loss";
  private static final String BATCH_MEAN = "batchMean";
  private static final String BATCH_VAR = "batchVar";
  private static final String EVAL_LOGITS = "evalLogits";
  private static final String TRAIN_LOGITS = "trainLogits";

  private final int hidden;
  private final DataType dtype;
  private final SameDiff sd;
  private final Map<String, long[]> shapes = new LinkedHashMap<>();

  /** The graph for a hidden width of {@code hidden}, in float32. */
  public MlpWithBatchNorm(int hidden) {
    this(hidden, DataType.FLOAT);
  }

  public MlpWithBatchNorm(int hidden, DataType dtype) {
    if (hidden < 1) {
      throw new IllegalArgumentException("hidden must be >= 1, got " + hidden);
    }
    if (dtype != DataType.FLOAT && dtype != DataType.DOUBLE) {
      throw new IllegalArgumentException("dtype must be FLOAT or DOUBLE, got " + dtype);
    }
    this.hidden = hidden;
    this.dtype = dtype;
    shapes.putAll(shapes(hidden));
    Nd4jRuntime.init();
    this.sd = build();
    // Build the backward graph now, silencing M2.1's stdout print of every differentiated op.
    Nd4jRuntime.quietly(() -> {
      sd.createGradFunction();
      return null;
    });
  }

  private SameDiff build() {
    SameDiff g = SameDiff.create();
    SDVariable x = g.placeHolder(X, dtype, -1, INPUTS);
    SDVariable y = g.placeHolder(Y, dtype, -1, CLASSES);
    SDVariable runMean = g.placeHolder(RUN_MEAN, dtype, 1, hidden);
    SDVariable runVar = g.placeHolder(RUN_VAR, dtype, 1, hidden);
    SDVariable w1 = g.var(FC1_WEIGHT, Nd4j.zeros(dtype, INPUTS, hidden));
    SDVariable b1 = g.var(FC1_BIAS, Nd4j.zeros(dtype, hidden));
    SDVariable gamma = g.var(BN1_GAMMA, Nd4j.ones(dtype, hidden));
    SDVariable beta = g.var(BN1_BETA, Nd4j.zeros(dtype, hidden));
    SDVariable w2 = g.var(FC2_WEIGHT, Nd4j.zeros(dtype, hidden, CLASSES));
    SDVariable b2 = g.var(FC2_BIAS, Nd4j.zeros(dtype, CLASSES));

    SDVariable z1 = g.nn.linear(x, w1, b1);
    // training mode: the batch's own statistics, differentiated through
    SDVariable mu = z1.mean(BATCH_MEAN, true, 0);
    SDVariable centered = z1.sub(mu);
    SDVariable var = g.math.square(centered).mean(BATCH_VAR, true, 0);
    SDVariable zHat = centered.mul(g.math.rsqrt(var.add(BN_EPS)));
    SDVariable h = g.nn.relu(zHat.mul(gamma).add(beta), 0);
    SDVariable logits = g.nn.linear(TRAIN_LOGITS, h, w2, b2);
    g.loss.softmaxCrossEntropy(LOSS, y, logits, null, org.nd4j.autodiff.loss.LossReduce.MEAN_BY_NONZERO_WEIGHT_COUNT, 0.0);
    g.setLossVariables(LOSS);

    // inference: the given running statistics
    SDVariable zHatEval = z1.sub(runMean).mul(g.math.rsqrt(runVar.add(BN_EPS)));
    SDVariable hEval = g.nn.relu(zHatEval.mul(gamma).add(beta), 0);
    g.nn.linear(EVAL_LOGITS, hEval, w2, b2);
    return g;
  }

  public int hidden() {
    return hidden;
  }

  public DataType dataType() {
    return dtype;
  }

  /** The shape of each trainable tensor for a hidden width of {@code hidden}, in model order. */
  public static Map<String, long[]> shapes(int hidden) {
    Map<String, long[]> s = new LinkedHashMap<>();
    s.put(FC1_WEIGHT, new long[] {INPUTS, hidden});
    s.put(FC1_BIAS, new long[] {hidden});
    s.put(BN1_GAMMA, new long[] {hidden});
    s.put(BN1_BETA, new long[] {hidden});
    s.put(FC2_WEIGHT, new long[] {hidden, CLASSES});
    s.put(FC2_BIAS, new long[] {CLASSES});
    return s;
  }

  /** The shape of each trainable tensor, in model order. */
  public Map<String, long[]> shapes() {
    Map<String, long[]> copy = new LinkedHashMap<>();
    shapes.forEach((k, v) -> copy.put(k, v.clone()));
    return copy;
  }

  /**
   * The tensors to create on the parameter server, with the server's seeded initializers: He-normal for
   * fc1 (std √(2/64), it feeds batch norm and ReLU), Glorot-normal for fc2 (std √(2/(H+10))), γ = 1,
   * β and the biases 0.
   */
  public static List<TensorDef> tensorDefs(int hidden, long seed) {
    return List.of(
        Tensors.of(FC1_WEIGHT, INPUTS, hidden).init(Initializers.normal(Math.sqrt(2.0 / INPUTS), seed)),
        Tensors.of(FC1_BIAS, hidden).init(Initializers.zeros()),
        Tensors.of(BN1_GAMMA, hidden).init(Initializers.constant(1)),
        Tensors.of(BN1_BETA, hidden).init(Initializers.zeros()),
        Tensors.of(FC2_WEIGHT, hidden, CLASSES)
            .init(Initializers.normal(Math.sqrt(2.0 / (hidden + CLASSES)), seed + 1)),
        Tensors.of(FC2_BIAS, CLASSES).init(Initializers.zeros()));
  }

  /**
   * The arrays of the trainable variables, by tensor name in model order: the graph's own arrays, which a
   * pull writes in place ({@code NdTrainer.pullInto}).
   */
  public Map<String, INDArray> parameterArrays() {
    Map<String, INDArray> arrays = new LinkedHashMap<>();
    for (String name : PARAMETERS) {
      arrays.put(name, sd.getVariable(name).getArr());
    }
    return arrays;
  }

  /** Sets every trainable tensor from {@code params} (row-major, as pulled; rounded if the graph is DOUBLE). */
  public void setParameters(Map<String, float[]> params) {
    for (Map.Entry<String, long[]> e : shapes.entrySet()) {
      float[] v = params.get(e.getKey());
      checkLength(e.getKey(), v == null ? -1 : v.length, e.getValue());
      TensorArrays.copyInto("tensor '" + e.getKey() + "'", v, sd.getVariable(e.getKey()).getArr(), e.getValue());
    }
  }

  /** As {@link #setParameters}, in double precision (for gradient checks with {@link DataType#DOUBLE}). */
  public void setParametersDouble(Map<String, double[]> params) {
    for (Map.Entry<String, long[]> e : shapes.entrySet()) {
      double[] v = params.get(e.getKey());
      checkLength(e.getKey(), v == null ? -1 : v.length, e.getValue());
      INDArray src = Nd4j.createFromArray(v).reshape(e.getValue());
      sd.getVariable(e.getKey()).getArr().assign(dtype == DataType.DOUBLE ? src : src.castTo(dtype));
    }
  }

  private static void checkLength(String name, int got, long[] shape) {
    long want = 1;
    for (long d : shape) {
      want *= d;
    }
    if (got < 0) {
      throw new IllegalArgumentException("no values for tensor '" + name + "'");
    }
    if (got != want) {
      throw new IllegalArgumentException("tensor '" + name + "' has " + got + " values, expected " + want);
    }
  }

  /**
   * The result of one forward/backward pass: the mean loss, its gradient per parameter (row-major float
   * arrays, in model order), and the batch's per-feature mean and biased variance after fc1.
   */
  public record StepResult(double loss, Map<String, float[]> gradients, double[] batchMean, double[] batchVariance) {}

  /**
   * Forward and backward on {@code rows} rows of {@code x} ({@code rows·64} values, row-major) with
   * {@code labels} (0..9), batch norm in training mode. Needs at least 2 rows (a variance).
   */
  public StepResult trainStep(float[] x, int[] labels) {
    int rows = labels.length;
    checkBatch(x.length, rows, 2);
    INDArray xa = Nd4j.createFromArray(x).reshape(rows, INPUTS);
    return trainStep(dtype == DataType.FLOAT ? xa : xa.castTo(dtype), oneHot(labels));
  }

  /** {@link #trainStep(float[], int[])} in double precision (for gradient checks). */
  public StepResult trainStepDouble(double[] x, int[] labels) {
    int rows = labels.length;
    checkBatch(x.length, rows, 2);
    INDArray xa = Nd4j.createFromArray(x).reshape(rows, INPUTS);
    return trainStep(dtype == DataType.DOUBLE ? xa : xa.castTo(dtype), oneHot(labels));
  }

  private StepResult trainStep(INDArray x, INDArray y) {
    OutAndGrad r = sd.calculateGradientsAndOutputs(
        Map.of(X, x, Y, y), List.of(LOSS, BATCH_MEAN, BATCH_VAR), PARAMETERS);
    Map<String, float[]> grads = new LinkedHashMap<>();
    for (String name : PARAMETERS) {
      INDArray g = Objects.requireNonNull(r.getGradients().get(name), () -> "no gradient for " + name);
      grads.put(name, TensorArrays.toFloats("the gradient of '" + name + "'", g, shapes.get(name)));
    }
    return new StepResult(
        r.getOutputs().get(LOSS).getDouble(0),
        grads,
        flat(r.getOutputs().get(BATCH_MEAN)).toDoubleVector(),
        flat(r.getOutputs().get(BATCH_VAR)).toDoubleVector());
  }

  /** The training-mode logits ({@code [rows, 10]}, batch statistics), row-major: for tests. */
  double[] trainLogitsDouble(double[] x, int[] labels) {
    int rows = labels.length;
    checkBatch(x.length, rows, 2);
    INDArray xa = Nd4j.createFromArray(x).reshape(rows, INPUTS);
    Map<String, INDArray> out = sd.output(Map.of(X, dtype == DataType.DOUBLE ? xa : xa.castTo(dtype), Y, oneHot(labels)), TRAIN_LOGITS);
    return flat(out.get(TRAIN_LOGITS)).toDoubleVector();
  }

  /** The training-mode loss alone (batch statistics), in the model's precision: for gradient checks. */
  public double lossDouble(double[] x, int[] labels) {
    int rows = labels.length;
    checkBatch(x.length, rows, 2);
    INDArray xa = Nd4j.createFromArray(x).reshape(rows, INPUTS);
    Map<String, INDArray> out = sd.output(Map.of(X, dtype == DataType.DOUBLE ? xa : xa.castTo(dtype), Y, oneHot(labels)), LOSS);
    return out.get(LOSS).getDouble(0);
  }

  /**
   * The class scores (logits) of {@code rows} rows in inference mode: batch norm with the given running
   * mean and variance. Row-major {@code [rows, 10]}.
   */
  public float[] logits(float[] x, int rows, double[] runningMean, double[] runningVariance) {
    checkBatch(x.length, rows, 1);
    if (runningMean.length != hidden || runningVariance.length != hidden) {
      throw new IllegalArgumentException("running statistics must have " + hidden + " values, got "
          + runningMean.length + " and " + runningVariance.length);
    }
    INDArray xa = Nd4j.createFromArray(x).reshape(rows, INPUTS);
    Map<String, INDArray> out = sd.output(Map.of(
        X, xa.castTo(dtype),
        RUN_MEAN, Nd4j.createFromArray(runningMean).reshape(1, hidden).castTo(dtype),
        RUN_VAR, Nd4j.createFromArray(runningVariance).reshape(1, hidden).castTo(dtype)), EVAL_LOGITS);
    return flat(out.get(EVAL_LOGITS)).toFloatVector();
  }

  /** The predicted class of each row, in inference mode (see {@link #logits}). */
  public int[] predict(float[] x, int rows, double[] runningMean, double[] runningVariance) {
    float[] z = logits(x, rows, runningMean, runningVariance);
    int[] pred = new int[rows];
    for (int i = 0; i < rows; i++) {
      int best = 0;
      for (int c = 1; c < CLASSES; c++) {
        if (z[i * CLASSES + c] > z[i * CLASSES + best]) {
          best = c;
        }
      }
      pred[i] = best;
    }
    return pred;
  }

  private static void checkBatch(int values, int rows, int minRows) {
    if (rows < minRows) {
      throw new IllegalArgumentException("a batch needs at least " + minRows + " rows, got " + rows);
    }
    if ((long) rows * INPUTS != values) {
      throw new IllegalArgumentException(rows + " rows need " + rows * INPUTS + " values, got " + values);
    }
  }

  private INDArray oneHot(int[] labels) {
    INDArray y = Nd4j.zeros(dtype, labels.length, CLASSES);
    for (int i = 0; i < labels.length; i++) {
      if (labels[i] < 0 || labels[i] >= CLASSES) {
        throw new IllegalArgumentException("label " + labels[i] + " at row " + i + " is not in 0..9");
      }
      y.putScalar(i, labels[i], 1.0);
    }
    return y;
  }

  private static INDArray flat(INDArray a) {
    return a.dup('c').reshape(a.length());
  }
}
