package dev.shardopt.engine;

import dev.shardopt.engine.device.DeviceArray;
import dev.shardopt.engine.device.DeviceBackend;
import dev.shardopt.engine.device.DeviceMemoryException;
import java.util.ArrayList;
import java.util.List;

/**
 * The device arrays of a {@link ShardGroup}'s shards, allocated together at construction and
 * released together: a model that does not fit fails at once, with nothing left allocated, rather
 * than at a later step or an unfreeze. A shard of no elements has no arrays (its accessors return
 * null).
 */
final class ShardArrays implements AutoCloseable {

  /**
   * What each shard needs besides its parameters.
   *
   * @param stateSlots the rule's optimizer state slots (allocated for frozen tensors too, so that
   *     unfreezing never allocates)
   * @param scratch one array for the trainer mean and the window mean (K > 1 or accumulate > 1)
   * @param windowSum one array for the accumulation window's sum (accumulate > 1)
   * @param staging K arrays the trainers' heap gradients are uploaded into (0 on the cpu backend,
   *     whose kernels read the heap arrays themselves)
   */
  record Layout(int stateSlots, boolean scratch, boolean windowSum, int staging) {
    int arraysPerShard() {
      return 1 + stateSlots + (scratch ? 1 : 0) + (windowSum ? 1 : 0) + staging;
    }

    String describe() {
      StringBuilder b = new StringBuilder("parameters");
      if (stateSlots > 0) {
        b.append(", ").append(stateSlots).append(" state slot").append(stateSlots == 1 ? "" : "s");
      }
      if (scratch) {
        b.append(", scratch");
      }
      if (windowSum) {
        b.append(", window sum");
      }
      if (staging > 0) {
        b.append(", ").append(staging).append(" gradient staging");
      }
      return b.toString();
    }
  }

  private static final class Arrays {
    DeviceArray param;
    DeviceArray[] state;
    DeviceArray scratch;
    DeviceArray windowSum;
    DeviceArray[] staging;
  }

  private final DeviceBackend backend;
  private final List<Arrays> shards;
  private final long bytes;

  private ShardArrays(DeviceBackend backend, List<Arrays> shards, long bytes) {
    this.backend = backend;
    this.shards = shards;
    this.bytes = bytes;
  }

  /** The bytes {@code layout} asks for, over shards of these lengths. */
  static long bytesNeeded(List<ShardSpec> specs, Layout layout) {
    long floats = 0;
    for (ShardSpec s : specs) {
      floats += s.length();
    }
    return 4L * floats * layout.arraysPerShard();
  }

  /**
   * Allocates every array of every shard.
   *
   * @throws DeviceMemoryException when the device runs out, naming the bytes the whole group needs
   *     and the bytes the device has free; everything allocated before is released first
   */
  static ShardArrays allocate(DeviceBackend backend, List<ShardSpec> specs, Layout layout) {
    List<DeviceArray> allocated = new ArrayList<>();
    List<Arrays> shards = new ArrayList<>();
    try {
      for (ShardSpec spec : specs) {
        Arrays a = new Arrays();
        int n = spec.length();
        if (n > 0) {
          a.param = take(backend, n, allocated);
          a.state = new DeviceArray[layout.stateSlots()];
          for (int j = 0; j < a.state.length; j++) {
            a.state[j] = take(backend, n, allocated);
          }
          a.scratch = layout.scratch() ? take(backend, n, allocated) : null;
          a.windowSum = layout.windowSum() ? take(backend, n, allocated) : null;
          a.staging = new DeviceArray[layout.staging()];
          for (int r = 0; r < a.staging.length; r++) {
            a.staging[r] = take(backend, n, allocated);
          }
        }
        shards.add(a);
      }
    } catch (DeviceMemoryException e) {
      releaseAll(backend, allocated);
      long need = bytesNeeded(specs, layout);
      long free = backend.info().freeBytes();
      throw new DeviceMemoryException("the shards need " + need + " bytes (" + specs.size() + " shard"
          + (specs.size() == 1 ? "" : "s") + " of " + (need / 4 / Math.max(1, layout.arraysPerShard()))
          + " floats in all, each with " + layout.describe() + ") on the " + backend.kind() + " device, which has "
          + (free < 0 ? "an unknown number of" : String.valueOf(free)) + " bytes free (" + e.getMessage() + ")",
          need, free);
    } catch (RuntimeException | Error e) {
      releaseAll(backend, allocated);
      throw e;
    }
    return new ShardArrays(backend, shards, bytesNeeded(specs, layout));
  }

  private static DeviceArray take(DeviceBackend backend, int n, List<DeviceArray> allocated) {
    DeviceArray a = backend.allocate(n);
    allocated.add(a);
    return a;
  }

  private static void releaseAll(DeviceBackend backend, List<DeviceArray> arrays) {
    for (DeviceArray a : arrays) {
      backend.release(a);
    }
  }

  /** The bytes these arrays hold. */
  long bytes() {
    return bytes;
  }

  DeviceArray param(int i) {
    return shards.get(i).param;
  }

  DeviceArray[] state(int i) {
    return shards.get(i).state;
  }

  DeviceArray scratch(int i) {
    return shards.get(i).scratch;
  }

  DeviceArray windowSum(int i) {
    return shards.get(i).windowSum;
  }

  DeviceArray staging(int i, int trainer) {
    return shards.get(i).staging[trainer];
  }

  /** Releases every array; idempotent (the backend's release of a released array is a no-op). */
  @Override
  public void close() {
    for (Arrays a : shards) {
      if (a.param == null) {
        continue;
      }
      backend.release(a.param);
      for (DeviceArray s : a.state) {
        backend.release(s);
      }
      if (a.scratch != null) {
        backend.release(a.scratch);
      }
      if (a.windowSum != null) {
        backend.release(a.windowSum);
      }
      for (DeviceArray s : a.staging) {
        backend.release(s);
      }
    }
  }
}
