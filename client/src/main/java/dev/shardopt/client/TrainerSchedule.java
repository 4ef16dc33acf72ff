package dev.shardopt.client;

import dev.shardopt.dsl.Pipeline;
import dev.shardopt.v1.Model;
import dev.shardopt.v1.PipelineGeneration;
import io.grpc.Status;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

/**
 * The trainer's view of a model's pipeline schedule ({@code Model.pipeline_schedule}): which
 * generation, and so which clipValue and freeze, is in force at a push index. It is the schedule
 * the coordinator last sent; {@link #refresh()} reads the model again. Generations are only ever
 * added, so the view never goes back to a schedule with fewer of them. Thread-safe.
 */
final class TrainerSchedule {

  /** One entry of the schedule: {@code pipeline} from push {@code fromStep} on. */
  record Generation(long generation, long fromStep, Pipeline pipeline) {}

  private final String model;
  private final Supplier<Model> reader;
  /** By generation, ascending. */
  private final AtomicReference<List<Generation>> generations = new AtomicReference<>();

  /**
   * @param current the model as the coordinator sent it
   * @param reader reads the model again (GetModel)
   * @throws ShardoptException INTERNAL when {@code current} has no schedule
   */
  TrainerSchedule(Model current, Supplier<Model> reader) {
    this.model = current.getName();
    this.reader = Objects.requireNonNull(reader, "reader");
    generations.set(parse(current));
  }

  /** The generation in force at push {@code step}: the highest one starting at or before it. */
  Generation at(long step) {
    Generation inForce = null;
    for (Generation g : generations.get()) {
      if (g.fromStep() <= step) {
        inForce = g;
      }
    }
    if (inForce == null) {
      throw new ShardoptException(Status.Code.INTERNAL, "the pipeline schedule of " + model
          + " has no generation in force at step " + step + ": " + describe());
    }
    return inForce;
  }

  /** The newest generation this view knows of. */
  Generation latest() {
    List<Generation> all = generations.get();
    return all.get(all.size() - 1);
  }

  /** Reads the model again and takes its schedule; returns this view. */
  TrainerSchedule refresh() {
    return update(reader.get());
  }

  /** Takes {@code answer}'s schedule unless this view already knows more generations. */
  TrainerSchedule update(Model answer) {
    List<Generation> next = parse(answer);
    generations.accumulateAndGet(next, (known, sent) -> sent.size() >= known.size() ? sent : known);
    return this;
  }

  /** "generation 0 from step 0, generation 1 from step 10". */
  String describe() {
    return generations.get().stream()
        .map(g -> "generation " + g.generation() + " from step " + g.fromStep())
        .reduce((a, b) -> a + ", " + b).orElse("none");
  }

  private List<Generation> parse(Model answer) {
    if (answer.getPipelineScheduleCount() == 0) {
      throw new ShardoptException(Status.Code.INTERNAL, "the coordinator's answer for " + model
          + " has no pipeline_schedule; it holds generation 0 (the creation pipeline) at least");
    }
    return answer.getPipelineScheduleList().stream()
        .sorted(Comparator.comparingLong(PipelineGeneration::getGeneration))
        .map(g -> new Generation(g.getGeneration(), g.getFromStep(), Pipeline.fromProto(g.getPipeline())))
        .toList();
  }
}
