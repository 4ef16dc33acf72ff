package dev.shardopt.worker.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.engine.ShardSpec;
import dev.shardopt.engine.TensorShape;
import java.util.List;
import org.junit.jupiter.api.Test;

class GradientPoolTest {
  private final GradientPool pool = new GradientPool(List.of(
      ShardSpec.whole(0, new TensorShape("a", new long[] {3})),
      ShardSpec.whole(1, new TensorShape("b", new long[] {2}))), 1);

  @Test
  void reusesReleasedArraysRefillsLeftOutShardsAndKeepsAtMostItsLimit() {
    float[][] g = pool.take();
    assertThat(g[0]).hasSize(3);
    assertThat(g[1]).hasSize(2);
    float[] a = g[0];
    g[1] = null; // a push left b out
    pool.release(g);
    pool.release(new float[][] {new float[3], new float[2]});
    assertThat(pool.free()).isEqualTo(1);
    float[][] again = pool.take();
    assertThat(again[0]).isSameAs(a);
    assertThat(again[1]).hasSize(2);
    assertThat(pool.free()).isZero();
  }
}
