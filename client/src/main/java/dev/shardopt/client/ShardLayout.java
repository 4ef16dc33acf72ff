package dev.shardopt.client;

import dev.shardopt.v1.Shard;
import dev.shardopt.v1.ShardMap;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * A model's shard map checked against its tensors and grouped by worker address: every tensor is
 * covered exactly once, and each worker's shards are in (tensor, offset) order. Immutable.
 */
final class ShardLayout {

  /** The shards one worker holds, in (tensor index, offset) order. */
  record WorkerShards(String address, String worker, List<Shard> shards) {
    long elements() {
      return shards.stream().mapToLong(Shard::getLength).sum();
    }
  }

  private final ShardMap map;
  private final List<TensorInfo> tensors;
  private final Map<String, TensorInfo> byName;
  private final List<WorkerShards> workers;

  private ShardLayout(ShardMap map, List<TensorInfo> tensors, List<WorkerShards> workers) {
    this.map = map;
    this.tensors = tensors;
    this.byName = tensors.stream()
        .collect(Collectors.toMap(TensorInfo::name, Function.identity(), (a, b) -> a, LinkedHashMap::new));
    this.workers = workers;
  }

  /**
   * Checks {@code map} against the model's {@code tensors}.
   *
   * @throws ShardoptException (INTERNAL) naming the first inconsistency
   */
  static ShardLayout of(ShardMap map, List<TensorInfo> tensors) {
    String where = "shard map of " + (map.getModel().isEmpty() ? "the model" : map.getModel()) + ": ";
    Map<String, TensorInfo> byName = new LinkedHashMap<>();
    Map<String, Coverage> coverage = new LinkedHashMap<>();
    for (TensorInfo t : tensors) {
      byName.put(t.name(), t);
      coverage.put(t.name(), new Coverage(t.name(), t.elements()));
    }
    Map<String, List<Shard>> byAddress = new LinkedHashMap<>();
    Map<String, String> workerNames = new LinkedHashMap<>();
    for (Shard s : map.getShardsList()) {
      TensorInfo t = byName.get(s.getTensor());
      if (t == null) {
        throw invalid(where + "a shard on " + s.getAddress() + " names tensor '" + s.getTensor()
            + "', which the model does not have; its tensors are " + byName.keySet());
      }
      if (s.getTensorIndex() != t.index()) {
        throw invalid(where + "tensor '" + s.getTensor() + "' is at index " + t.index()
            + " in the model, but a shard says " + s.getTensorIndex());
      }
      if (s.getAddress().isEmpty()) {
        throw invalid(where + "a shard of tensor '" + s.getTensor() + "' at offset "
            + s.getOffset() + " has no worker address");
      }
      if (s.getOffset() < 0 || s.getLength() < 0) { // uint64 values past 2^63
        throw invalid(where + "a shard of tensor '" + s.getTensor() + "' has offset "
            + Long.toUnsignedString(s.getOffset()) + " and length "
            + Long.toUnsignedString(s.getLength()));
      }
      String err = coverage.get(t.name()).add(s.getOffset(), s.getLength(),
          "worker " + s.getAddress());
      if (err != null) {
        throw invalid(where + err);
      }
      byAddress.computeIfAbsent(s.getAddress(), a -> new ArrayList<>()).add(s);
      workerNames.putIfAbsent(s.getAddress(), s.getWorker());
    }
    for (Coverage c : coverage.values()) {
      String gap = c.firstGap();
      if (gap != null) {
        throw invalid(where + gap + " (no shard holds them)");
      }
    }
    List<WorkerShards> workers = new ArrayList<>();
    Comparator<Shard> order =
        Comparator.comparingInt(Shard::getTensorIndex).thenComparingLong(Shard::getOffset);
    byAddress.forEach((address, shards) -> {
      shards.sort(order);
      workers.add(new WorkerShards(address, workerNames.get(address), List.copyOf(shards)));
    });
    return new ShardLayout(map, List.copyOf(tensors), List.copyOf(workers));
  }

  private static ShardoptException invalid(String message) {
    return new ShardoptException(Status.Code.INTERNAL, message);
  }

  ShardMap proto() {
    return map;
  }

  List<TensorInfo> tensors() {
    return tensors;
  }

  TensorInfo tensor(String name) {
    return byName.get(name);
  }

  /** The workers in order of first appearance in the shard map. */
  List<WorkerShards> workers() {
    return workers;
  }
}
