package dev.shardopt.worker.store;

import dev.shardopt.checkpoint.CheckpointException;
import dev.shardopt.checkpoint.CheckpointReader;
import dev.shardopt.engine.ShardSpec;
import dev.shardopt.rpc.ApiException;
import dev.shardopt.v1.RestoreSpec;
import java.io.IOException;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** Reads this worker's shards of a model, parameters and every state slot, from a checkpoint. */
final class ShardRestore {
  private ShardRestore() {}

  /**
   * @param slots the rule's state slots, in the kernel's order
   * @throws ApiException INVALID_ARGUMENT (a bad path, a checkpoint of another step, a tensor of
   *     another shape, an unknown slot) or FAILED_PRECONDITION (a missing or truncated file), naming
   *     this worker and the file
   */
  static RestoredShards read(RestoreSpec spec, String model, List<ShardSpec> shards, List<String> slots, String worker) {
    String what = model + " from " + spec.getPath();
    Path path;
    try {
      path = Path.of(spec.getPath());
    } catch (InvalidPathException e) {
      throw ApiException.invalidArgument("restore.path '" + spec.getPath() + "' is not a path: " + e.getMessage());
    }
    try (CheckpointReader reader = CheckpointReader.open(path)) {
      if (reader.step() != spec.getStep()) {
        throw ApiException.invalidArgument("restore.step is " + spec.getStep() + " but the checkpoint " + reader.dir()
            + " is of step " + reader.step());
      }
      List<float[]> parameters = new ArrayList<>();
      List<float[][]> state = new ArrayList<>();
      for (ShardSpec s : shards) {
        long[] shape = reader.plan().tensors().get(s.name());
        if (shape == null || !Arrays.equals(shape, s.tensor().shape())) {
          throw ApiException.invalidArgument("tensor '" + s.name() + "' of " + model + " has shape "
              + Arrays.toString(s.tensor().shape()) + ", but the checkpoint " + reader.dir() + " holds "
              + (shape == null ? "no such tensor" : "shape " + Arrays.toString(shape)));
        }
        float[] p = new float[s.length()];
        reader.readRange(s.name(), "", s.offset(), p);
        float[][] st = new float[slots.size()][];
        for (int j = 0; j < st.length; j++) {
          st[j] = new float[s.length()];
          reader.readRange(s.name(), slots.get(j), s.offset(), st[j]);
        }
        parameters.add(p);
        state.add(st);
      }
      return new RestoredShards(spec.getStep(), spec.getUpdatesApplied(), spec.getStepsSkipped(),
          spec.getNextPushList().stream().mapToLong(Long::longValue).toArray(), parameters, state);
    } catch (CheckpointException e) {
      throw CheckpointStatus.ofRead(worker, what, e);
    } catch (IOException e) { // closing the files read
      throw ApiException.failedPrecondition(worker + " could not restore " + what + ": " + e.getMessage());
    }
  }
}
