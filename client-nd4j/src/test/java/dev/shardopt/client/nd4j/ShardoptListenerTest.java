package dev.shardopt.client.nd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.shardopt.client.ModelOptions;
import dev.shardopt.client.RemoteModel;
import dev.shardopt.client.ShardoptCluster;
import dev.shardopt.client.TensorDef;
import dev.shardopt.client.Tensors;
import dev.shardopt.client.Trainer;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.embedded.ShardoptLocal;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.TestDataSetIterator;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;

/** SameDiff's fit through an embedded cluster of 2 workers. */
class ShardoptListenerTest {
  private static final int ROWS = 240;
  private static final int BATCH = 24;
  private static final int EPOCHS = 3;
  private static final int STEPS = EPOCHS * ROWS / BATCH;
  private static final String PIPELINE = "adam(0.02).clipNorm(5.0)";

  private static ShardoptCluster cluster;

  @BeforeAll
  static void start() {
    cluster = ShardoptLocal.start(2);
  }

  @AfterAll
  static void stop() {
    cluster.close();
  }

  /**
   * {@code sd.fit} with the listener for 30 steps (3 epochs of 10 batches) gives bitwise the
   * parameters of the same steps driven through the plain client with float arrays (gradients by
   * {@code calculateGradients}, conversions written out here), the graph's variables end with
   * them, and the loss on the data falls.
   */
  @Test
  void fitThroughTheListenerIsThePlainClientLoopBitForBit() {
    DataSet data = SmallMlp.data(ROWS, 7);
    SameDiff sd = SmallMlp.graph(42);
    double initialLoss = SmallMlp.loss(sd, data);
    RemoteModel viaListener = cluster.createModel(ModelOptions.named("sd-fit").pipeline(Pipeline.parse(PIPELINE))
        .trainers(1).sync().tensors(SameDiffTensors.of(sd)));
    sd.setTrainingConfig(ShardoptListener.trainingConfig().dataSetFeatureMapping("x").dataSetLabelMapping("y").build());
    ShardoptListener listener = new ShardoptListener(viaListener.trainer(0, 1));
    sd.fit(new TestDataSetIterator(data, BATCH), EPOCHS, listener);

    Map<String, float[]> plain = plainClientLoop(data);

    Map<String, float[]> fitted = viaListener.pull(STEPS);
    assertThat(listener.heldVersion()).isEqualTo(STEPS);
    for (String p : SmallMlp.PARAMETERS) {
      assertThat(bits(fitted.get(p))).as(p).containsExactly(bits(plain.get(p)));
      assertThat(bits(SmallMlp.values(sd).get(p))).as(p + " in the graph").containsExactly(bits(fitted.get(p)));
    }
    double finalLoss = SmallMlp.loss(sd, data);
    assertThat(finalLoss).isLessThan(0.5 * initialLoss);
  }

  /** The same steps with the plain client: pull float[]s, set them, calculateGradients, push float[]s. */
  private static Map<String, float[]> plainClientLoop(DataSet data) {
    SameDiff sd = SmallMlp.graph(42);
    List<TensorDef> defs = new ArrayList<>();
    SmallMlp.values(sd).forEach((name, v) -> defs.add(Tensors.of(name, v, sd.getVariable(name).getShape())));
    RemoteModel model = cluster.createModel(ModelOptions.named("sd-plain").pipeline(Pipeline.parse(PIPELINE))
        .trainers(1).sync().tensors(defs));
    Trainer trainer = model.trainer(0, 1);
    TestDataSetIterator batches = new TestDataSetIterator(data, BATCH);
    long step = 0;
    for (int e = 0; e < EPOCHS; e++) {
      batches.reset();
      while (batches.hasNext()) {
        DataSet b = batches.next();
        trainer.push(step++, plainGradient(sd, trainer.pull(), b));
      }
    }
    assertThat(step).isEqualTo(STEPS);
    return model.pull(STEPS);
  }

  /**
   * Two trainers, each fitting its own copy of the graph on its half of every batch in a thread of
   * its own, give bitwise the parameters of the same two trainers driven through the plain client
   * one after the other: the workers average the two gradients of each step either way.
   */
  @Test
  void twoTrainersFittingInParallelAreThePlainClientsTwoTrainers() throws Exception {
    DataSet data = SmallMlp.data(ROWS, 9);
    List<DataSet> halves = List.of(rows(data, 0), rows(data, 1));
    SameDiff first = SmallMlp.graph(5);
    RemoteModel viaListener = cluster.createModel(ModelOptions.named("sd-fit-k2").pipeline(Pipeline.parse(PIPELINE))
        .trainers(2).sync().tensors(SameDiffTensors.of(first)));
    List<SameDiff> graphs = List.of(first, SmallMlp.graph(5));
    java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(2);
    try {
      List<java.util.concurrent.Future<?>> runs = new ArrayList<>();
      for (int r = 0; r < 2; r++) {
        int rank = r;
        runs.add(pool.submit(() -> {
          SameDiff sd = graphs.get(rank);
          sd.setTrainingConfig(ShardoptListener.trainingConfig().dataSetFeatureMapping("x").dataSetLabelMapping("y").build());
          sd.fit(new TestDataSetIterator(halves.get(rank), BATCH / 2), EPOCHS,
              new ShardoptListener(viaListener.trainer(rank, 2)));
          return null;
        }));
      }
      for (java.util.concurrent.Future<?> run : runs) {
        run.get(5, java.util.concurrent.TimeUnit.MINUTES);
      }
    } finally {
      pool.shutdownNow();
    }

    SameDiff plainGraph = SmallMlp.graph(5);
    List<TensorDef> defs = new ArrayList<>();
    SmallMlp.values(plainGraph).forEach((name, v) -> defs.add(Tensors.of(name, v, plainGraph.getVariable(name).getShape())));
    RemoteModel plain = cluster.createModel(ModelOptions.named("sd-plain-k2").pipeline(Pipeline.parse(PIPELINE))
        .trainers(2).sync().tensors(defs));
    List<Trainer> trainers = List.of(plain.trainer(0, 2), plain.trainer(1, 2));
    List<TestDataSetIterator> batches = List.of(new TestDataSetIterator(halves.get(0), BATCH / 2),
        new TestDataSetIterator(halves.get(1), BATCH / 2));
    for (int step = 0; step < STEPS; step++) {
      for (int r = 0; r < 2; r++) {
        if (!batches.get(r).hasNext()) {
          batches.get(r).reset();
        }
        trainers.get(r).push(step, plainGradient(plainGraph, trainers.get(r).pull(), batches.get(r).next()));
      }
    }

    Map<String, float[]> fitted = viaListener.pull(STEPS);
    Map<String, float[]> expected = plain.pull(STEPS);
    for (String p : SmallMlp.PARAMETERS) {
      assertThat(bits(fitted.get(p))).as(p).containsExactly(bits(expected.get(p)));
      for (SameDiff sd : graphs) {
        assertThat(bits(SmallMlp.values(sd).get(p))).as(p + " in a graph").containsExactly(bits(fitted.get(p)));
      }
    }
    assertThat(SmallMlp.loss(first, data)).isLessThan(0.5 * SmallMlp.loss(SmallMlp.graph(5), data));
  }

  /** Rows {@code parity}, {@code parity + 2}, ... of {@code data}. */
  private static DataSet rows(DataSet data, int parity) {
    int n = data.numExamples() / 2;
    long[] idx = new long[n];
    for (int i = 0; i < n; i++) {
      idx[i] = 2L * i + parity;
    }
    return new DataSet(data.getFeatures().get(org.nd4j.linalg.indexing.NDArrayIndex.indices(idx),
        org.nd4j.linalg.indexing.NDArrayIndex.all()).dup(),
        data.getLabels().get(org.nd4j.linalg.indexing.NDArrayIndex.indices(idx),
            org.nd4j.linalg.indexing.NDArrayIndex.all()).dup());
  }

  /** {@code sd}'s gradient at {@code params} on {@code batch}, as row-major float[]s (written out here). */
  private static Map<String, float[]> plainGradient(SameDiff sd, Map<String, float[]> params, DataSet batch) {
    params.forEach((name, v) -> sd.getVariable(name).getArr()
        .assign(Nd4j.createFromArray(v).reshape(sd.getVariable(name).getShape())));
    Map<String, INDArray> grads = sd.calculateGradients(Map.of("x", batch.getFeatures(), "y", batch.getLabels()),
        SmallMlp.PARAMETERS);
    Map<String, float[]> push = new LinkedHashMap<>();
    for (String p : SmallMlp.PARAMETERS) {
      INDArray g = grads.get(p);
      push.put(p, g.dup('c').reshape(g.length()).toFloatVector());
    }
    return push;
  }

  @Test
  void aGraphWithItsOwnUpdaterIsRefusedBeforeAnyStep() {
    SameDiff sd = SmallMlp.graph(1);
    RemoteModel model = cluster.createModel(ModelOptions.named("sd-adam").pipeline(Pipeline.parse("sgd(0.1)"))
        .trainers(1).sync().tensors(SameDiffTensors.of(sd)));
    sd.setTrainingConfig(ShardoptListener.trainingConfig().updater(new Adam(1e-3))
        .dataSetFeatureMapping("x").dataSetLabelMapping("y").build());
    ShardoptListener listener = new ShardoptListener(model.trainer(0, 1));
    assertThatThrownBy(() -> sd.fit(SmallMlp.data(48, 1), listener))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("the SameDiff TrainingConfig's updater is Adam(")
        .hasMessageContaining("needs NoOp (the cluster applies the pipeline)");
    assertThat(model.step()).isZero();
  }

  @Test
  void aGraphWhoseVariablesAreNotTheModelsTensorsIsRefused() {
    SameDiff sd = SmallMlp.graph(1);
    List<TensorDef> withoutB2 = SameDiffTensors.of(sd).stream().filter(t -> !t.name().equals("b2")).toList();
    RemoteModel model = cluster.createModel(ModelOptions.named("sd-mismatch").pipeline(Pipeline.parse("sgd(0.1)"))
        .trainers(1).sync().tensors(withoutB2));
    sd.setTrainingConfig(ShardoptListener.trainingConfig().dataSetFeatureMapping("x").dataSetLabelMapping("y").build());
    assertThatThrownBy(() -> sd.fit(SmallMlp.data(48, 1), new ShardoptListener(model.trainer(0, 1))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("the SameDiff graph's trainable variable [b2] is not a tensor of model 'sd-mismatch' (its tensors: [b1, w1, w2])");
    assertThat(model.step()).isZero();
  }

  @Test
  void tensorsOfAGraphAreItsTrainableVariablesWithTheirValues() {
    SameDiff sd = SmallMlp.graph(3);
    sd.constant("notTrained", Nd4j.ones(DataType.FLOAT, 2));
    List<TensorDef> defs = SameDiffTensors.of(sd);
    assertThat(defs).extracting(TensorDef::name).containsExactlyInAnyOrderElementsOf(SmallMlp.PARAMETERS);
    TensorDef w1 = defs.stream().filter(d -> d.name().equals("w1")).findFirst().orElseThrow();
    assertThat(w1.shape()).containsExactly(SmallMlp.INPUTS, SmallMlp.HIDDEN);
    assertThat(w1.isUpload()).isTrue();
    assertThat(w1.values()).containsExactly(SmallMlp.values(sd).get("w1"));
  }

  static int[] bits(float[] v) {
    int[] b = new int[v.length];
    for (int i = 0; i < v.length; i++) {
      b[i] = Float.floatToRawIntBits(v[i]);
    }
    return b;
  }
}
