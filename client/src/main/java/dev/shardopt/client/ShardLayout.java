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
 * covered exactly once by primaries (replica 0), every backup copies a primary's range on another
 * worker, and each worker's shards are in (tensor, offset) order. Pushes and uploads go to every
 * copy ({@link #workers}); pulls read each range from its primary ({@link #pullSources}). Immutable.
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
  private final List<WorkerShards> pullSources;
  private final boolean replicated;

  private ShardLayout(ShardMap map, List<TensorInfo> tensors, List<WorkerShards> workers,
      List<WorkerShards> pullSources, boolean replicated) {
    this.map = map;
    this.pullSources = pullSources;
    this.replicated = replicated;
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
    List<Shard> primaries = new ArrayList<>();
    List<Shard> backups = new ArrayList<>();
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
      if (s.getReplica() == 0) {
        String err = coverage.get(t.name()).add(s.getOffset(), s.getLength(),
            "worker " + s.getAddress());
        if (err != null) {
          throw invalid(where + err);
        }
        primaries.add(s);
      } else {
        backups.add(s);
      }
      byAddress.computeIfAbsent(s.getAddress(), a -> new ArrayList<>()).add(s);
      workerNames.putIfAbsent(s.getAddress(), s.getWorker());
    }
    Map<String, Shard> primaryOf = new LinkedHashMap<>();
    for (Shard p : primaries) {
      primaryOf.put(p.getTensorIndex() + ":" + p.getOffset(), p);
    }
    Map<String, List<String>> copiesOn = new LinkedHashMap<>();
    for (Shard p : primaries) {
      copiesOn.computeIfAbsent(p.getTensorIndex() + ":" + p.getOffset(), k -> new ArrayList<>()).add(p.getAddress());
    }
    for (Shard b : backups) {
      String key = b.getTensorIndex() + ":" + b.getOffset();
      Shard p = primaryOf.get(key);
      if (p == null || p.getLength() != b.getLength()) {
        throw invalid(where + "copy " + b.getReplica() + " of tensor '" + b.getTensor() + "' at offset "
            + b.getOffset() + " on " + b.getAddress() + " has no primary of the same range");
      }
      List<String> on = copiesOn.get(key);
      if (on.contains(b.getAddress())) {
        throw invalid(where + "two copies of tensor '" + b.getTensor() + "' at offset " + b.getOffset()
            + " are on the same worker " + b.getAddress());
      }
      on.add(b.getAddress());
    }
    for (Coverage c : coverage.values()) {
      String gap = c.firstGap();
      if (gap != null) {
        throw invalid(where + gap + " (no shard holds them)");
      }
    }
    List<WorkerShards> workers = grouped(byAddress, workerNames);
    Map<String, List<Shard>> primaryByAddress = new LinkedHashMap<>();
    for (Shard p : primaries) {
      primaryByAddress.computeIfAbsent(p.getAddress(), a -> new ArrayList<>()).add(p);
    }
    return new ShardLayout(map, List.copyOf(tensors), workers, grouped(primaryByAddress, workerNames),
        !backups.isEmpty());
  }

  private static List<WorkerShards> grouped(Map<String, List<Shard>> byAddress, Map<String, String> workerNames) {
    List<WorkerShards> out = new ArrayList<>();
    Comparator<Shard> order =
        Comparator.comparingInt(Shard::getTensorIndex).thenComparingLong(Shard::getOffset);
    byAddress.forEach((address, shards) -> {
      List<Shard> sorted = new ArrayList<>(shards);
      sorted.sort(order);
      out.add(new WorkerShards(address, workerNames.get(address), List.copyOf(sorted)));
    });
    return List.copyOf(out);
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

  /** The workers in order of first appearance in the shard map, each with every copy it holds. */
  List<WorkerShards> workers() {
    return workers;
  }

  /** Where pulls read: the workers holding primaries, each with its primaries only. */
  List<WorkerShards> pullSources() {
    return pullSources;
  }

  /** Whether some range has more than one copy (a pull then names the shards it wants). */
  boolean replicated() {
    return replicated;
  }

  /** The shard map's epoch: a newer map supersedes this one. */
  long epoch() {
    return map.getEpoch();
  }
}
