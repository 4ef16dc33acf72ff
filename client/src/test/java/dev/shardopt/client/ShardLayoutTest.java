package dev.shardopt.client;

import static dev.shardopt.client.Fixtures.A;
import static dev.shardopt.client.Fixtures.B;
import static dev.shardopt.client.Fixtures.shard;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.shardopt.v1.Shard;
import dev.shardopt.v1.ShardMap;
import io.grpc.Status;
import org.junit.jupiter.api.Test;

class ShardLayoutTest {

  @Test
  void groupsShardsByWorkerInTensorOrder() {
    // Shards listed out of order: the layout sorts each worker's by (tensor, offset).
    ShardMap shuffled = ShardMap.newBuilder()
        .addShards(shard("c", 2, 0, 7, B))
        .addShards(shard("w", 0, 8192, 4096, B))
        .addShards(shard("w", 0, 0, 8192, A))
        .addShards(shard("b", 1, 0, 100, B))
        .build();
    ShardLayout layout = ShardLayout.of(shuffled, Fixtures.tensors());
    assertThat(layout.workers()).extracting(ShardLayout.WorkerShards::address).containsExactly(B, A);
    ShardLayout.WorkerShards b = layout.workers().get(0);
    assertThat(b.shards()).extracting(Shard::getTensor).containsExactly("w", "b", "c");
    assertThat(b.elements()).isEqualTo(4096 + 100 + 7);
    assertThat(b.worker()).isEqualTo("workers/b");
    assertThat(layout.workers().get(1).elements()).isEqualTo(8192);
  }

  @Test
  void aReplicatedMapPushesToEveryCopyAndPullsFromPrimariesAndRefusesABadCopy() {
    // every range of the fixture map once more, as copy 1 on the other worker
    ShardMap.Builder copies = Fixtures.map().toBuilder().setEpoch(3);
    for (Shard s : Fixtures.map().getShardsList()) {
      copies.addShards(s.toBuilder().setReplica(1).setAddress(s.getAddress().equals(A) ? B : A)
          .setWorker(s.getAddress().equals(A) ? "workers/b" : "workers/a"));
    }
    ShardLayout layout = ShardLayout.of(copies.build(), Fixtures.tensors());
    assertThat(layout.replicated()).isTrue();
    assertThat(layout.epoch()).isEqualTo(3);
    long total = Fixtures.map().getShardsList().stream().mapToLong(Shard::getLength).sum();
    assertThat(layout.workers()).extracting(ShardLayout.WorkerShards::elements).containsOnly(total); // all of it, twice
    assertThat(layout.pullSources().stream().mapToLong(ShardLayout.WorkerShards::elements).sum()).isEqualTo(total);
    assertThat(ShardLayout.of(Fixtures.map(), Fixtures.tensors()).replicated()).isFalse();

    Shard first = Fixtures.map().getShards(0);
    assertThatThrownBy(() -> ShardLayout.of(Fixtures.map().toBuilder().addShards(first.toBuilder().setReplica(1)).build(),
        Fixtures.tensors()))
        .hasMessageContaining("two copies of tensor 'w' at offset 0 are on the same worker " + first.getAddress());
    assertThatThrownBy(() -> ShardLayout.of(Fixtures.map().toBuilder().addShards(first.toBuilder().setReplica(1)
        .setLength(first.getLength() - 1).setAddress("elsewhere:1")).build(), Fixtures.tensors()))
        .hasMessageContaining("copy 1 of tensor 'w' at offset 0 on elsewhere:1 has no primary of the same range");
  }

  @Test
  void refusesAMissingRange() {
    ShardMap gap = Fixtures.map().toBuilder().removeShards(1).build();
    assertThatThrownBy(() -> ShardLayout.of(gap, Fixtures.tensors()))
        .isInstanceOf(ShardoptException.class)
        .hasMessageContaining("tensor 'w' (12288 elements): elements [8192, 12288) are missing")
        .satisfies(e -> assertThat(((ShardoptException) e).code()).isEqualTo(Status.Code.INTERNAL));
  }

  @Test
  void refusesAnOverlap() {
    ShardMap overlap = Fixtures.map().toBuilder().addShards(shard("w", 0, 8000, 192, A)).build();
    assertThatThrownBy(() -> ShardLayout.of(overlap, Fixtures.tensors()))
        .hasMessageContaining("elements [8000, 8192) from worker " + A
            + " overlap elements [0, 8192) from worker " + A);
  }

  @Test
  void refusesAnUnknownTensorAWrongIndexAndARangePastTheEnd() {
    assertThatThrownBy(() -> ShardLayout.of(
            Fixtures.map().toBuilder().addShards(shard("z", 3, 0, 1, A)).build(), Fixtures.tensors()))
        .hasMessageContaining("names tensor 'z', which the model does not have; its tensors are [w, b, c]");
    assertThatThrownBy(() -> ShardLayout.of(
            Fixtures.map().toBuilder().setShards(3, shard("c", 1, 0, 7, B)).build(), Fixtures.tensors()))
        .hasMessageContaining("tensor 'c' is at index 2 in the model, but a shard says 1");
    assertThatThrownBy(() -> ShardLayout.of(
            Fixtures.map().toBuilder().setShards(3, shard("c", 2, 0, 8, B)).build(), Fixtures.tensors()))
        .hasMessageContaining("tensor 'c': elements [0, 8) from worker " + B + " lie beyond its 7 elements");
  }
}
