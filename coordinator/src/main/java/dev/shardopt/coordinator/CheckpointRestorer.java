package dev.shardopt.coordinator;

import dev.shardopt.checkpoint.CheckpointException;
import dev.shardopt.checkpoint.CheckpointReader;
import dev.shardopt.checkpoint.FileRange;
import dev.shardopt.rpc.ApiException;
import dev.shardopt.v1.CheckpointManifest;
import dev.shardopt.v1.CreateModelRequest;
import dev.shardopt.v1.Model;
import dev.shardopt.v1.PipelineGeneration;
import dev.shardopt.v1.RestoreSpec;
import dev.shardopt.v1.TrainingMode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * CreateModel with restore_from: opens the checkpoint, checks its manifest and every file's size
 * and header before anything is created, and creates the model it describes on the current
 * workers, continuing from its step. The files' contents are read once: the workers load their
 * shards and answer the CRC32C of every range they read, which must combine into the manifest's
 * checksums before the model exists (else the shards are dropped and nothing is created).
 */
public final class CheckpointRestorer {
  private final ModelRegistry models;

  public CheckpointRestorer(ModelRegistry models) {
    this.models = models;
  }

  public Model restore(CreateModelRequest request) {
    if (request.hasModel()) {
      throw ApiException.invalidArgument("model and restore_from are both set; a restored model's spec comes from"
          + " its checkpoint, so leave model unset");
    }
    ModelRegistry.nameOf(request.getModelId());
    Path path = Checkpointer.directory("restore_from", request.getRestoreFrom());
    CheckpointReader reader;
    try {
      reader = CheckpointReader.open(path);
    } catch (CheckpointException e) {
      throw Checkpointer.toApi(e);
    }
    try {
      reader.checkFiles();
      CheckpointManifest m = reader.manifest();
      Path dir = reader.dir().toAbsolutePath();
      if (m.getMode() == TrainingMode.ASYNC) {
        checkCut(dir, m);
      } else if (m.getNextPushCount() != 0) {
        throw ApiException.invalidArgument(dir + ": the manifest of a SYNC model has next_push " + m.getNextPushList()
            + "; only an ASYNC checkpoint has one");
      }
      List<PipelineGeneration> generations = m.getPipelineSchedule().getGenerationsList();
      if (generations.isEmpty()) {
        throw ApiException.invalidArgument(dir + ": the manifest's pipeline_schedule has no generation");
      }
      Model spec = Model.newBuilder().addAllTensors(m.getTensorsList()).setTrainers(m.getTrainers()).setMode(m.getMode())
          .setStaleness(m.getStaleness()).setPipeline(generations.get(0).getPipeline())
          .setReplicas(Math.max(1, m.getReplicas())).build();
      RestoreSpec restore = RestoreSpec.newBuilder().setPath(dir.toString()).setStep(m.getStep())
          .setUpdatesApplied(m.getUpdatesApplied()).setStepsSkipped(m.getStepsSkipped())
          .addAllNextPush(m.getNextPushList()).build();
      return models.restore(request.getModelId(), spec, generations, restore, read -> {
        try {
          reader.checkRanges(read.stream().map(FileRange::fromProto).toList());
        } catch (CheckpointException e) {
          throw Checkpointer.toApi(e);
        }
      });
    } catch (CheckpointException e) {
      throw Checkpointer.toApi(e);
    } finally {
      try {
        reader.close();
      } catch (IOException ignored) {
        // files only read: nothing is lost, and the outcome is already decided
      }
    }
  }

  /** An ASYNC checkpoint's cut: one next push per trainer, which sum to its step. */
  private static void checkCut(Path dir, CheckpointManifest m) {
    int trainers = Math.max(1, m.getTrainers());
    if (m.getNextPushCount() != trainers) {
      throw ApiException.invalidArgument(dir + ": the manifest's next_push has " + m.getNextPushCount()
          + " entries for " + trainers + " trainers; an ASYNC checkpoint holds every trainer's next push");
    }
    long sum = m.getNextPushList().stream().mapToLong(Long::longValue).sum();
    if (sum != m.getStep()) {
      throw ApiException.invalidArgument(dir + ": the manifest's step " + m.getStep() + " is not the sum of its"
          + " next_push " + m.getNextPushList() + " (" + sum + ")");
    }
  }
}
