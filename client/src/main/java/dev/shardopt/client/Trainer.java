package dev.shardopt.client;

import dev.shardopt.v1.PushHeader;
import dev.shardopt.v1.TrainingMode;
import io.grpc.Status;
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
   * As {@link #pullParameters()}, into the caller's arrays: see
   * {@link RemoteModel#pullParametersInto(long, Map)} (exactly the model's tensors, each of its
   * element count; their contents are unspecified after a pull that throws).
   */
  public PulledParameters pullInto(Map<String, float[]> into) {
    return pullInto(nextStep.get(), into);
  }

  /** As {@link #pullInto(Map)}, once the model has completed {@code minStep} steps. */
  public PulledParameters pullInto(long minStep, Map<String, float[]> into) {
    return model.pullParametersInto(minStep, into);
  }

  /**
   * Pushes this trainer's gradient of {@code step}: every tensor of the model (frozen ones
   * included), each with the tensor's element count. Returns once every worker has acknowledged it.
   * Do not change the arrays until this returns.
   *
   * <p>For an ASYNC model, the header also carries the gradient's squared norm after clipValue over
   * the non-frozen tensors, whether it has a NaN or infinity, and the pipeline generation (in force
   * at {@code step} in the schedule this client knows) they were computed under. When a worker
   * refuses that generation because a change made elsewhere is in force at {@code step}, the model's
   * schedule is read again and the push sent once more under the generation in force.
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
    PushResult result = model.mode() == TrainingMode.ASYNC
        ? pushAsync(step, gradient)
        : send(header(step).build(), gradient);
    nextStep.accumulateAndGet(step + 1, Math::max);
    return result;
  }

  private PushResult pushAsync(long step, Map<String, float[]> gradient) {
    TrainerSchedule.Generation known = model.schedule().at(step);
    try {
      return send(asyncHeader(step, known, gradient), gradient);
    } catch (ShardoptException refused) {
      TrainerSchedule.Generation inForce = inForceAfter(refused, step, known);
      try {
        return send(asyncHeader(step, inForce, gradient), gradient);
      } catch (ShardoptException again) {
        throw again.code() == Status.Code.FAILED_PRECONDITION
            ? refusedTwice(step, known, inForce, again, refused)
            : again;
      }
    }
  }

  /**
   * The generation in force at {@code step} in the schedule read again after {@code refused};
   * throws {@code refused} when it cannot be about the generation (another code, or no other
   * generation in force at the step).
   */
  private TrainerSchedule.Generation inForceAfter(ShardoptException refused, long step,
      TrainerSchedule.Generation known) {
    if (refused.code() != Status.Code.FAILED_PRECONDITION) {
      throw refused;
    }
    TrainerSchedule.Generation inForce;
    try {
      inForce = model.schedule().refresh().at(step);
    } catch (ShardoptException unread) {
      unread.addSuppressed(refused);
      throw unread;
    }
    if (inForce.generation() == known.generation()) {
      throw refused;
    }
    return inForce;
  }

  private ShardoptException refusedTwice(long step, TrainerSchedule.Generation known,
      TrainerSchedule.Generation inForce, ShardoptException again, ShardoptException refused) {
    ShardoptException e = new ShardoptException(Status.Code.FAILED_PRECONDITION, again.address(),
        "push of step " + step + " (trainer " + rank + ", " + model.name()
            + ") was refused under pipeline generation " + known.generation()
            + ", then under generation " + inForce.generation() + ", the one in force at step "
            + step + " in the coordinator's schedule (" + model.schedule().describe()
            + "); worker " + again.address() + " says: " + again.serverMessage(),
        again.serverMessage(), again);
    e.addSuppressed(refused);
    return e;
  }

  private PushHeader.Builder header(long step) {
    return PushHeader.newBuilder().setModel(model.name()).setTrainer(rank).setStep(step);
  }

  /** The header with the statistics under {@code generation}'s pipeline, and its number. */
  private PushHeader asyncHeader(long step, TrainerSchedule.Generation generation,
      Map<String, float[]> gradient) {
    Gradients.Stats stats = Gradients.stats(model.tensorInfos(), gradient, generation.pipeline());
    return header(step).setGradientNormSquared(stats.normSquared()).setNonFinite(stats.nonFinite())
        .setPipelineGeneration(generation.generation()).build();
  }

  private PushResult send(PushHeader header, Map<String, float[]> gradient) {
    return model.cluster().workerCalls().push(model.layout(), header, gradient, model::refreshLayout);
  }

  @Override
  public String toString() {
    return "Trainer{" + model.name() + ", rank " + rank + " of " + model.trainers() + ", next step "
        + nextStep.get() + "}";
  }
}
