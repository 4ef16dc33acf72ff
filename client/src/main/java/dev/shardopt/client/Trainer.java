package dev.shardopt.client;

import dev.shardopt.v1.PushHeader;
import dev.shardopt.v1.TrainingMode;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One trainer of a model: it pulls the parameters and pushes its gradient of each step directly
 * to the workers. Steps are the trainer's push indices, from 0; {@link #nextStep()} is one past the
 * highest step pushed (or the step given to {@link #startingAt}). Thread-safe.
 */
public final class Trainer {
  private final RemoteModel model;
  private final int rank;
  private final AtomicLong nextStep;

  Trainer(RemoteModel model, int rank, long nextStep) {
    this.model = model;
    this.rank = rank;
    this.nextStep = new AtomicLong(nextStep);
  }

  public RemoteModel model() {
    return model;
  }

  public int rank() {
    return rank;
  }

  /** K, the model's trainers. */
  public int trainers() {
    return model.trainers();
  }

  /** The step this trainer pushes next, and the version {@link #pull()} waits for. */
  public long nextStep() {
    return nextStep.get();
  }

  /** This trainer resuming at {@code step}, e.g. after a restart: a new Trainer. */
  public Trainer startingAt(long step) {
    if (step < 0) {
      throw new IllegalArgumentException("step must be >= 0, got " + step);
    }
    return new Trainer(model, rank, step);
  }

  /**
   * The parameters the trainer's next step needs: in SYNC mode, waits until the model has completed
   * {@link #nextStep()} steps. A fresh map in model tensor order.
   */
  public Map<String, float[]> pull() {
    return pull(nextStep.get());
  }

  /** The parameters once the model has completed {@code minStep} steps. */
  public Map<String, float[]> pull(long minStep) {
    return pullParameters(minStep).tensors();
  }

  /** As {@link #pull()}, with the step of the version returned. */
  public PulledParameters pullParameters() {
    return pullParameters(nextStep.get());
  }

  public PulledParameters pullParameters(long minStep) {
    return model.pullParameters(minStep);
  }

  /**
   * Pushes this trainer's gradient of {@code step}: every tensor of the model (frozen ones
   * included), each with the tensor's element count. Returns once every worker has acknowledged it.
   * For an ASYNC model, the header also carries the gradient's squared norm after clipValue over
   * the non-frozen tensors, and whether it has a NaN or infinity. Do not change the arrays until
   * this returns.
   *
   * <p>A worker that answers UNAVAILABLE is sent the push again (see
   * {@link ClientOptions#pushAttempts()}): pushes are idempotent per (model, trainer, step).
   *
   * @throws IllegalArgumentException when the gradient lacks a tensor, has an unknown one or one
   *     of the wrong length (the message names the tensor, what it got and what was expected)
   * @throws ShardoptException when a worker refuses the push or cannot be reached
   */
  public PushResult push(long step, Map<String, float[]> gradient) {
    if (step < 0) {
      throw new IllegalArgumentException("step must be >= 0, got " + step);
    }
    Gradients.validate(model.id(), model.tensorInfos(), gradient);
    PushHeader.Builder header = PushHeader.newBuilder()
        .setModel(model.name())
        .setTrainer(rank)
        .setStep(step);
    if (model.mode() == TrainingMode.ASYNC) {
      Gradients.Stats stats = Gradients.stats(model.tensorInfos(), gradient, model.pipelineAt(step));
      header.setGradientNormSquared(stats.normSquared()).setNonFinite(stats.nonFinite());
    }
    PushResult result = model.cluster().workerCalls().push(model.layout(), header.build(), gradient);
    nextStep.accumulateAndGet(step + 1, Math::max);
    return result;
  }

  @Override
  public String toString() {
    return "Trainer{" + model.name() + ", rank " + rank + " of " + model.trainers() + ", next step "
        + nextStep.get() + "}";
  }
}
