package dev.shardopt.client;

import dev.shardopt.v1.Shard;
import dev.shardopt.v1.ShardMap;
import dev.shardopt.v1.TensorSpec;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A model of three tensors on two workers: "w" (96 x 128 = 12288 elements) split at the
 * 8192-element block boundary, [0, 8192) on A and [8192, 12288) on B; "b" (100) and "c" (7) packed
 * on B.
 */
final class Fixtures {
  static final String A = "127.0.0.1:7001";
  static final String B = "127.0.0.1:7002";

  private Fixtures() {}

  static List<TensorSpec> specs() {
    return List.of(
        TensorSpec.newBuilder().setName("w").addShape(96).addShape(128).build(),
        TensorSpec.newBuilder().setName("b").addShape(100).build(),
        TensorSpec.newBuilder().setName("c").addShape(7).build());
  }

  static List<TensorInfo> tensors() {
    return TensorInfo.of(specs());
  }

  static Shard shard(String tensor, int index, long offset, long length, String address) {
    return Shard.newBuilder().setTensor(tensor).setTensorIndex(index).setOffset(offset)
        .setLength(length).setAddress(address)
        .setWorker(address.equals(A) ? "workers/a" : "workers/b").build();
  }

  static ShardMap map(String a, String b) {
    return ShardMap.newBuilder()
        .setModel("models/m")
        .setBlockSize(8192)
        .addShards(shard("w", 0, 0, 8192, a))
        .addShards(shard("w", 0, 8192, 4096, b))
        .addShards(shard("b", 1, 0, 100, b))
        .addShards(shard("c", 2, 0, 7, b))
        .build();
  }

  static ShardMap map() {
    return map(A, B);
  }

  static ShardLayout layout() {
    return ShardLayout.of(map(), tensors());
  }

  /** Values distinct per tensor and element: tensor index * 100000 + element + base. */
  static Map<String, float[]> values(float base) {
    Map<String, float[]> out = new LinkedHashMap<>();
    for (TensorInfo t : tensors()) {
      float[] v = new float[t.elements()];
      for (int i = 0; i < v.length; i++) {
        v[i] = t.index() * 100000 + i + base;
      }
      out.put(t.name(), v);
    }
    return out;
  }
}
