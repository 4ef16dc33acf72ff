package dev.shardopt.coordinator;

import dev.shardopt.v1.Shard;
import dev.shardopt.engine.kernel.ReductionBlocks;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Places a model's tensors on workers. The tensors are laid end to end (each padded to whole
 * reduction blocks) and the line is cut into contiguous, equal runs of blocks, one per worker:
 * large tensors are split, small ones packed, and the load is balanced by bytes to within one
 * block. A shard never exceeds {@code maxShardBlocks} blocks, so a worker may hold several shards
 * of one tensor. Every cut falls on a block boundary.
 *
 * <p>With {@code replicas} R &gt; 1, the range of worker i (its primaries) also goes, as backups 1
 * .. R-1, to workers i+1 .. i+R-1 (mod W): every worker holds R of the W runs, each range's copies
 * are on R different workers, and when worker i dies its primaries' first backups are all on one
 * worker, the next. The map lists each range's copies together, primary first.
 */
public final class ShardPlanner {
  private ShardPlanner() {}

  /** A worker that can take shards. */
  public record WorkerSlot(String name, String address) {}

  /**
   * @param tensorNames names in model order
   * @param tensorSizes element counts in model order
   * @param maxShardBlocks largest shard in blocks, or 0 for no limit
   */
  public static List<Shard> plan(
      List<String> tensorNames, List<Long> tensorSizes, List<WorkerSlot> workers, long maxShardBlocks) {
    return plan(tensorNames, tensorSizes, workers, maxShardBlocks, 1);
  }

  /**
   * {@link #plan(List, List, List, long)} with {@code replicas} copies of every range.
   *
   * @throws IllegalArgumentException when there are fewer workers than replicas
   */
  public static List<Shard> plan(List<String> tensorNames, List<Long> tensorSizes, List<WorkerSlot> workers,
      long maxShardBlocks, int replicas) {
    if (workers.isEmpty()) {
      throw new IllegalArgumentException("no workers to place shards on");
    }
    if (replicas < 1 || replicas > workers.size()) {
      throw new IllegalArgumentException(replicas + " replicas need as many workers, and there are "
          + workers.size());
    }
    List<Shard> primaries = planPrimaries(tensorNames, tensorSizes, workers, maxShardBlocks);
    if (replicas == 1) {
      return primaries;
    }
    Map<String, Integer> index = new HashMap<>();
    for (int i = 0; i < workers.size(); i++) {
      index.put(workers.get(i).name(), i);
    }
    List<Shard> out = new ArrayList<>();
    for (Shard p : primaries) {
      int home = index.get(p.getWorker());
      for (int k = 0; k < replicas; k++) {
        WorkerSlot slot = workers.get((home + k) % workers.size());
        out.add(p.toBuilder().setWorker(slot.name()).setAddress(slot.address()).setReplica(k).build());
      }
    }
    return out;
  }

  private static List<Shard> planPrimaries(
      List<String> tensorNames, List<Long> tensorSizes, List<WorkerSlot> workers, long maxShardBlocks) {
    if (workers.isEmpty()) {
      throw new IllegalArgumentException("no workers to place shards on");
    }
    long block = ReductionBlocks.BLOCK;
    long totalBlocks = 0;
    for (long n : tensorSizes) {
      totalBlocks += (n + block - 1) / block;
    }
    int w = workers.size();
    // Worker i takes blocks [cut[i], cut[i+1]) of the padded line.
    long[] cut = new long[w + 1];
    for (int i = 0; i <= w; i++) {
      cut[i] = totalBlocks * i / w;
    }
    List<Shard> out = new ArrayList<>();
    long lineBlock = 0;
    for (int t = 0; t < tensorNames.size(); t++) {
      long size = tensorSizes.get(t);
      long blocks = (size + block - 1) / block;
      long first = lineBlock;
      long end = lineBlock + blocks;
      long at = first;
      while (at < end) {
        int worker = workerOf(cut, at);
        long stop = Math.min(end, cut[worker + 1]);
        if (maxShardBlocks > 0) {
          stop = Math.min(stop, at + maxShardBlocks);
        }
        long offset = (at - first) * block;
        long length = Math.min(size, (stop - first) * block) - offset;
        WorkerSlot slot = workers.get(worker);
        out.add(Shard.newBuilder().setTensor(tensorNames.get(t)).setTensorIndex(t).setOffset(offset)
            .setLength(length).setWorker(slot.name()).setAddress(slot.address()).build());
        at = stop;
      }
      if (blocks == 0) {
        // An empty tensor still has a home, so that every tensor appears in the shard map.
        WorkerSlot slot = workers.get(workerOf(cut, Math.min(first, Math.max(0, totalBlocks - 1))));
        out.add(Shard.newBuilder().setTensor(tensorNames.get(t)).setTensorIndex(t).setOffset(0).setLength(0)
            .setWorker(slot.name()).setAddress(slot.address()).build());
      }
      lineBlock = end;
    }
    return out;
  }

  private static int workerOf(long[] cut, long blockIndex) {
    int w = cut.length - 1;
    for (int i = 0; i < w; i++) {
      if (blockIndex < cut[i + 1]) {
        return i;
      }
    }
    return w - 1;
  }
}
