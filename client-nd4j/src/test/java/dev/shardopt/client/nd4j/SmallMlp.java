package dev.shardopt.client.nd4j;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.nd4j.autodiff.loss.LossReduce;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A small SameDiff MLP (8 inputs, tanh hidden layer of 16, 3 classes, softmax cross-entropy) with
 * seeded initial values, and a seeded 3-class data set that a linear teacher labels.
 */
final class SmallMlp {
  static final int INPUTS = 8;
  static final int HIDDEN = 16;
  static final int CLASSES = 3;
  static final List<String> PARAMETERS = List.of("w1", "b1", "w2", "b2");

  private SmallMlp() {}

  /** The graph, its variables initialized from {@code seed}. */
  static SameDiff graph(long seed) {
    Random rnd = new Random(seed);
    SameDiff sd = SameDiff.create();
    SDVariable x = sd.placeHolder("x", DataType.FLOAT, -1, INPUTS);
    SDVariable y = sd.placeHolder("y", DataType.FLOAT, -1, CLASSES);
    SDVariable w1 = sd.var("w1", normal(rnd, 0.35, INPUTS, HIDDEN));
    SDVariable b1 = sd.var("b1", Nd4j.zeros(DataType.FLOAT, HIDDEN));
    SDVariable w2 = sd.var("w2", normal(rnd, 0.3, HIDDEN, CLASSES));
    SDVariable b2 = sd.var("b2", Nd4j.zeros(DataType.FLOAT, CLASSES));
    SDVariable h = sd.math.tanh(x.mmul(w1).add(b1));
    SDVariable logits = h.mmul(w2).add("logits", b2);
    sd.loss.softmaxCrossEntropy("loss", y, logits, null, LossReduce.MEAN_BY_NONZERO_WEIGHT_COUNT, 0.0);
    sd.setLossVariables("loss");
    return sd;
  }

  /** {@code rows} rows of standard normal features, labelled by the argmax of a fixed linear map. */
  static DataSet data(int rows, long seed) {
    Random rnd = new Random(seed);
    float[][] teacher = new float[INPUTS][CLASSES];
    for (float[] row : teacher) {
      for (int c = 0; c < CLASSES; c++) {
        row[c] = (float) rnd.nextGaussian();
      }
    }
    INDArray x = Nd4j.zeros(DataType.FLOAT, rows, INPUTS);
    INDArray y = Nd4j.zeros(DataType.FLOAT, rows, CLASSES);
    for (int r = 0; r < rows; r++) {
      float[] f = new float[INPUTS];
      for (int i = 0; i < INPUTS; i++) {
        f[i] = (float) rnd.nextGaussian();
        x.putScalar(r, i, f[i]);
      }
      int best = 0;
      double bestScore = Double.NEGATIVE_INFINITY;
      for (int c = 0; c < CLASSES; c++) {
        double s = 0;
        for (int i = 0; i < INPUTS; i++) {
          s += f[i] * teacher[i][c];
        }
        if (s > bestScore) {
          bestScore = s;
          best = c;
        }
      }
      y.putScalar(r, best, 1.0);
    }
    return new DataSet(x, y);
  }

  /** The mean loss of {@code sd} on {@code data}. */
  static double loss(SameDiff sd, DataSet data) {
    return sd.output(Map.of("x", data.getFeatures(), "y", data.getLabels()), "loss").get("loss").getDouble(0);
  }

  /** The variables' current values, row-major, by name. */
  static Map<String, float[]> values(SameDiff sd) {
    Map<String, float[]> out = new LinkedHashMap<>();
    for (String p : PARAMETERS) {
      INDArray a = sd.getVariable(p).getArr();
      out.put(p, a.dup('c').reshape(a.length()).toFloatVector());
    }
    return out;
  }

  private static INDArray normal(Random rnd, double std, int rows, int cols) {
    float[] v = new float[rows * cols];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) (rnd.nextGaussian() * std);
    }
    return Nd4j.createFromArray(v).reshape(rows, cols);
  }
}
