package dev.shardopt.client.nd4j;

import dev.shardopt.client.Trainer;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.nd4j.autodiff.listeners.At;
import org.nd4j.autodiff.listeners.BaseListener;
import org.nd4j.autodiff.listeners.Loss;
import org.nd4j.autodiff.listeners.Operation;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.TrainingConfig;
import org.nd4j.autodiff.samediff.internal.Variable;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.MultiDataSet;
import org.nd4j.linalg.learning.config.NoOp;

/**
 * Trains a SameDiff graph through a Shardopt cluster inside {@code SameDiff.fit}: SameDiff computes
 * the gradients, the cluster applies the model's pipeline, and the new parameters are pulled back
 * into the graph's variables.
 *
 * <pre>{@code
 * RemoteModel model = cluster.createModel("mlp", Pipeline.parse("adam(1e-3).clipNorm(1)"),
 *     SameDiffTensors.of(sd).toArray(TensorDef[]::new));
 * sd.setTrainingConfig(ShardoptListener.trainingConfig()
 *     .dataSetFeatureMapping("x").dataSetLabelMapping("y").build());
 * sd.fit(trainData, epochs, new ShardoptListener(model.trainer(0, 1)));
 * }</pre>
 *
 * <p>The rule per fit iteration, for the trainer's step {@code s} ({@link Trainer#nextStep()}):
 * <ol>
 *   <li>at the start of a fit, the variables receive version {@code s} (pulled unless they already
 *       hold it);
 *   <li>SameDiff runs the forward and backward pass; for each trainable variable its gradient
 *       (SameDiff's "update", which the NoOp updater leaves as the gradient) is copied out, and the
 *       update is then set to zero, so SameDiff's own {@code param -= update} changes nothing;
 *   <li>after the iteration the gradients are pushed as step {@code s} (a trainable variable that
 *       got no gradient, not being connected to the loss, pushes zeros), and version {@code s + 1}
 *       is pulled into the variables.
 * </ol>
 *
 * <p>So the graph must be configured with the {@link NoOp} updater, no regularization (put weight
 * decay in the pipeline) and minimization ({@link #trainingConfig()} starts such a config), and its
 * trainable variables must be exactly the model's tensors, of the same shapes ({@link
 * SameDiffTensors#of} makes such a model); fit refuses otherwise before the first iteration. One
 * listener per graph and trainer, used from the thread that runs fit.
 */
public final class ShardoptListener extends BaseListener {
  private final NdTrainer trainer;
  private final Map<String, long[]> shapes;
  private final Map<String, float[]> gradient = new LinkedHashMap<>();
  private Map<String, INDArray> variables;
  private SameDiff bound;
  /** The version the variables hold, or -1 before the first pull. */
  private long held = -1;

  public ShardoptListener(Trainer trainer) {
    this(new NdTrainer(trainer));
  }

  public ShardoptListener(NdTrainer trainer) {
    this.trainer = Objects.requireNonNull(trainer, "trainer");
    this.shapes = trainer.shapes();
  }

  /** A training config for a graph trained through this listener: the NoOp updater, minimizing. */
  public static TrainingConfig.Builder trainingConfig() {
    return new TrainingConfig.Builder().updater(new NoOp()).minimize(true);
  }

  /** The trainer whose steps this listener pushes. */
  public NdTrainer trainer() {
    return trainer;
  }

  /** The version (completed steps) the graph's variables hold, or -1 before the first fit. */
  public long heldVersion() {
    return held;
  }

  @Override
  public boolean isActive(Operation operation) {
    return operation == Operation.TRAINING;
  }

  @Override
  public void operationStart(SameDiff sd, Operation op) {
    if (op != Operation.TRAINING) {
      return;
    }
    checkConfig(sd.getTrainingConfig());
    if (bound != sd) {
      variables = SameDiffTensors.bind(sd, trainer.trainer().model().id(), shapes);
      bound = sd;
      held = -1;
    }
    gradient.clear();
    if (held != trainer.nextStep()) {
      held = trainer.pullInto(variables);
    }
  }

  @Override
  public void preUpdate(SameDiff sd, At at, Variable v, INDArray update) {
    String name = v.getName();
    gradient.put(name, TensorArrays.toFloats("the gradient of SameDiff variable '" + name + "'", update,
        shapes.get(name)));
    update.assign(0);
  }

  @Override
  public void iterationDone(SameDiff sd, At at, MultiDataSet dataSet, Loss loss) {
    Map<String, float[]> push = new LinkedHashMap<>();
    shapes.forEach((name, shape) -> {
      float[] g = gradient.get(name);
      push.put(name, g != null ? g : new float[elements(shape)]);
    });
    gradient.clear();
    long step = trainer.nextStep();
    trainer.trainer().push(step, push);
    held = trainer.pullInto(step + 1, variables);
  }

  private static void checkConfig(TrainingConfig config) {
    if (config == null) {
      throw new IllegalArgumentException("the SameDiff graph has no TrainingConfig; set one built from "
          + "ShardoptListener.trainingConfig()");
    }
    if (!(config.getUpdater() instanceof NoOp)) {
      throw new IllegalArgumentException("the SameDiff TrainingConfig's updater is " + config.getUpdater()
          + "; a graph trained through Shardopt needs NoOp (the cluster applies the pipeline): start from "
          + "ShardoptListener.trainingConfig()");
    }
    List<?> reg = config.getRegularization();
    if (reg != null && !reg.isEmpty()) {
      throw new IllegalArgumentException("the SameDiff TrainingConfig has regularization " + reg
          + "; a graph trained through Shardopt needs none (put weight decay in the pipeline)");
    }
    if (!config.isMinimize()) {
      throw new IllegalArgumentException("the SameDiff TrainingConfig maximizes its loss (minimize = false); "
          + "Shardopt's pipelines minimize: negate the loss instead");
    }
  }

  private static int elements(long[] shape) {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    return Math.toIntExact(n);
  }
}
