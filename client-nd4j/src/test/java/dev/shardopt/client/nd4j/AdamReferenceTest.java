package dev.shardopt.client.nd4j;

import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.client.ModelOptions;
import dev.shardopt.client.RemoteModel;
import dev.shardopt.client.ShardoptCluster;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.embedded.ShardoptLocal;
import java.io.File;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * An independent check of the listener's numbers: conformance case p12 ({@code adam()}, 1024
 * parameters, 40 steps), whose expected trajectory libtorch 2.10's {@code torch::optim::Adam}
 * computed (src/test/resources/reference, a copy of shared/reference; see its README). The graph's
 * loss is {@code sum(w * g)} with the case's gradient fed as the placeholder {@code g}, so the
 * gradient SameDiff computes for {@code w} is {@code g} exactly; after each {@code fit} step the
 * graph's {@code w}, as pulled back by the listener, must be within the case's tolerance
 * {@code |got - exp| <= 2e-6 + 2e-5 |exp|} of the reference.
 */
class AdamReferenceTest {
  private static final double ABS = 2e-6;
  private static final double REL = 2e-5;

  @Test
  void fitThroughTheListenerFollowsTorchsAdamTrajectory() throws Exception {
    Path dir = resource("reference/p12_adam_defaults");
    String pipeline = Files.readString(dir.resolve("pipeline.txt")).trim();
    assertThat(pipeline).isEqualTo("adam()");
    INDArray init = Nd4j.createFromNpyFile(file(dir, "init.npy")).castTo(DataType.FLOAT);
    INDArray grads = Nd4j.createFromNpyFile(file(dir, "grads.npy")).castTo(DataType.FLOAT);
    INDArray expected = Nd4j.createFromNpyFile(file(dir, "expected.npy")).castTo(DataType.FLOAT);
    int n = (int) init.length();
    int steps = (int) grads.size(0);
    assertThat(n).isEqualTo(1024);
    assertThat(steps).isEqualTo(40);

    SameDiff sd = SameDiff.create();
    SDVariable g = sd.placeHolder("g", DataType.FLOAT, 1, n);
    SDVariable w = sd.var("w", init.reshape(1, n).dup());
    w.mul(g).sum("loss");
    sd.setLossVariables("loss");
    sd.setTrainingConfig(ShardoptListener.trainingConfig().dataSetFeatureMapping("g").markLabelsUnused().build());

    try (ShardoptCluster cluster = ShardoptLocal.start(2)) {
      RemoteModel model = cluster.createModel(ModelOptions.named("p12-adam").pipeline(Pipeline.parse(pipeline))
          .trainers(1).sync().tensors(SameDiffTensors.of(sd)));
      ShardoptListener listener = new ShardoptListener(model.trainer(0, 1));
      double worst = 0;
      for (int t = 0; t < steps; t++) {
        INDArray gt = grads.get(NDArrayIndex.point(t), NDArrayIndex.all()).reshape(1, n).dup();
        sd.fit(new DataSet(gt, null), listener);
        float[] got = sd.getVariable("w").getArr().dup('c').reshape(n).toFloatVector();
        float[] exp = expected.get(NDArrayIndex.point(t), NDArrayIndex.all()).dup().toFloatVector();
        for (int i = 0; i < n; i++) {
          double ratio = Math.abs((double) got[i] - exp[i]) / (ABS + REL * Math.abs(exp[i]));
          assertThat(ratio).as("step %d, element %d: got %s, expected %s", t, i, got[i], exp[i]).isLessThanOrEqualTo(1.0);
          worst = Math.max(worst, ratio);
        }
      }
      assertThat(listener.heldVersion()).isEqualTo(steps);
      // the parameters moved: the check is about Adam's steps, not about values left alone
      float[] last = expected.get(NDArrayIndex.point(steps - 1), NDArrayIndex.all()).dup().toFloatVector();
      assertThat(maxAbsDiff(last, init.toFloatVector())).isGreaterThan(1e-3);
      System.out.printf("p12 adam through SameDiff fit: worst error %.3f of the tolerance%n", worst);
    }
  }

  private static double maxAbsDiff(float[] a, float[] b) {
    double m = 0;
    for (int i = 0; i < a.length; i++) {
      m = Math.max(m, Math.abs(a[i] - b[i]));
    }
    return m;
  }

  private static Path resource(String name) throws URISyntaxException {
    return Path.of(AdamReferenceTest.class.getClassLoader().getResource(name).toURI());
  }

  private static File file(Path dir, String name) {
    return dir.resolve(name).toFile();
  }
}
