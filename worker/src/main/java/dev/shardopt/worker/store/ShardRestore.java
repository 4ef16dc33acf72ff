package dev.shardopt.worker.store;

import dev.shardopt.checkpoint.CheckpointException;
import dev.shardopt.checkpoint.CheckpointReader;
import dev.shardopt.checkpoint.FileRange;
import dev.shardopt.engine.ShardGroup;
import dev.shardopt.engine.ShardSpec;
import dev.shardopt.rpc.ApiException;
import dev.shardopt.v1.RestoreSpec;
import java.io.IOException;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Reads this worker's shards of a model, parameters and every state slot, from a checkpoint,
 * straight into the shards' arrays (a chunk at a time, through a small buffer), with the CRC32C of
 * every range read: the coordinator checks them against the manifest, so the files are read once.
 */
final class ShardRestore {
  private ShardRestore() {}

  /**
   * The restore {@code spec} describes; its {@link RestoredShards#load} reads the files.
   *
   * @param slots the rule's state slots, in the kernel's order
   * @throws ApiException INVALID_ARGUMENT for a bad path (the load: a checkpoint of another step, a
   *     tensor of another shape, an unknown slot, or FAILED_PRECONDITION for a missing or truncated
   *     file), naming this worker and the file
   */
  static RestoredShards of(RestoreSpec spec, String model, List<String> slots, String worker) {
    Path path;
    try {
      path = Path.of(spec.getPath());
    } catch (InvalidPathException e) {
      throw ApiException.invalidArgument("restore.path '" + spec.getPath() + "' is not a path: " + e.getMessage());
    }
    return new RestoredShards(spec.getStep(), spec.getUpdatesApplied(), spec.getStepsSkipped(),
        spec.getNextPushList().stream().mapToLong(Long::longValue).toArray(),
        group -> read(path, spec.getStep(), model, group, slots, worker));
  }

  private static List<FileRange> read(Path path, long step, String model, ShardGroup group, List<String> slots,
      String worker) {
    String what = model + " from " + path;
    try (CheckpointReader reader = CheckpointReader.open(path)) {
      if (reader.step() != step) {
        throw ApiException.invalidArgument("restore.step is " + step + " but the checkpoint " + reader.dir()
            + " is of step " + reader.step());
      }
      List<FileRange> ranges = new ArrayList<>();
      for (int i = 0; i < group.size(); i++) {
        ShardSpec s = group.shard(i);
        long[] shape = reader.plan().tensors().get(s.name());
        if (shape == null || !Arrays.equals(shape, s.tensor().shape())) {
          throw ApiException.invalidArgument("tensor '" + s.name() + "' of " + model + " has shape "
              + Arrays.toString(s.tensor().shape()) + ", but the checkpoint " + reader.dir() + " holds "
              + (shape == null ? "no such tensor" : "shape " + Arrays.toString(shape)));
        }
        if (s.length() == 0) {
          continue;
        }
        for (int j = ShardGroup.PARAMETERS; j < slots.size(); j++) {
          int shard = i;
          int array = j;
          ranges.add(reader.readRange(s.name(), j == ShardGroup.PARAMETERS ? "" : slots.get(j), s.offset(), s.length(),
              (from, src, n) -> group.write(shard, array, (int) from, src, 0, n)));
        }
      }
      return ranges;
    } catch (CheckpointException e) {
      throw CheckpointStatus.ofRead(worker, what, e);
    } catch (IOException e) { // closing the files read
      throw ApiException.failedPrecondition(worker + " could not restore " + what + ": " + e.getMessage());
    }
  }
}
