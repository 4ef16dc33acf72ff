package dev.shardopt.engine;

import static dev.shardopt.dsl.Optimizers.adagrad;
import static dev.shardopt.dsl.Optimizers.adam;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.shardopt.dsl.Pipeline;
import dev.shardopt.engine.device.CpuBackend;
import dev.shardopt.engine.device.DeviceBackend;
import dev.shardopt.engine.device.DeviceMemoryException;
import dev.shardopt.engine.device.MemoryLimitedBackend;
import dev.shardopt.engine.device.OffHeapTestBackend;
import dev.shardopt.engine.kernel.ParallelApply;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A ShardGroup's device arrays: all allocated at construction and all released on failure or close,
 * gradients staged on a device and not on the cpu backend, parameters read by download.
 */
class ShardGroupDeviceTest {
  private static ExecutorService pool;
  private static ParallelApply parallel;

  @BeforeAll
  static void start() {
    pool = Executors.newFixedThreadPool(2);
    parallel = new ParallelApply(pool, 2, 1);
  }

  @AfterAll
  static void stop() {
    pool.shutdownNow();
  }

  private static final List<ShardSpec> SHARDS = List.of(
      ShardSpec.whole(0, new TensorShape("w", new long[] {100, 100})),
      ShardSpec.whole(1, new TensorShape("b", new long[] {100})),
      ShardSpec.whole(2, new TensorShape("empty", new long[] {0})));

  private static List<float[]> initial() {
    float[] w = new float[10_000];
    for (int i = 0; i < w.length; i++) {
      w[i] = i * 0.001f;
    }
    float[] b = new float[100];
    java.util.Arrays.fill(b, 0.5f);
    return List.of(w, b, new float[0]);
  }

  private static ShardGroup group(Pipeline p, int trainers, DeviceBackend device) {
    return new ShardGroup(p, SHARDS, initial(), trainers, device, parallel);
  }

  private static float[][] gradient(float scale) {
    float[] w = new float[10_000];
    for (int i = 0; i < w.length; i++) {
      w[i] = scale * ((i % 7) - 3);
    }
    float[] b = new float[100];
    java.util.Arrays.fill(b, scale);
    return new float[][] {w, b, new float[0]};
  }

  private static void push(ShardGroup g, List<float[][]> byTrainer) {
    for (int r = 0; r < byTrainer.size(); r++) {
      g.validate(r, byTrainer.get(r));
    }
    ShardGroup.PreparedStep s = g.prepare(byTrainer);
    if (s != null) {
      g.apply(s, StepDecider.decide(g.pipeline(), g.updatesApplied(), g.statistics(s), List.of("w", "b", "empty")));
    }
  }

  @Test
  void anAllocationThatFailsAnywhereLeavesNothingAllocatedAndNamesTheBytes() {
    // adam (2 state slots), K = 2, accumulate 2: per shard parameters + 2 state + scratch + window
    // sum + 2 staging = 7 arrays of (10000 + 100) floats (the empty shard has none): 14 allocations.
    long need = 7L * (10_000 + 100) * 4;
    Pipeline p = adam(1e-3).accumulate(2);
    OffHeapTestBackend device = new OffHeapTestBackend(parallel);
    for (int n = 0; n < 14; n++) {
      device.failAllocation(n);
      assertThatThrownBy(() -> group(p, 2, device))
          .isInstanceOfSatisfying(DeviceMemoryException.class, e -> {
            assertThat(e.requestedBytes()).isEqualTo(need);
            assertThat(e.freeBytes()).isEqualTo(1L << 40);
          })
          .hasMessageStartingWith("the shards need " + need + " bytes (3 shards of 10100 floats in all, each with "
              + "parameters, 2 state slots, scratch, window sum, 2 gradient staging) on the offheap-test device, which has "
              + (1L << 40) + " bytes free (test device: allocation " + n + " refused)");
      assertThat(device.liveArrays()).as("after failing allocation %d", n).isZero();
    }
    device.failAllocation(14); // one past the last: the group fits
    ShardGroup g = group(p, 2, device);
    assertThat(device.liveArrays()).isEqualTo(14);
    assertThat(g.deviceBytes()).isEqualTo(need);
    g.close();
    assertThat(device.liveArrays()).isZero();
    assertThatThrownBy(() -> g.parameters(0)).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
    g.close(); // idempotent
  }

  @Test
  void theCpuBackendStagesNothingAndHoldsExactlyTheGroupsArrays() {
    CpuBackend cpu = new CpuBackend(parallel);
    // K = 3 trainers, accumulate 2, adam: parameters + 2 state + scratch + window sum, no staging
    ShardGroup g = group(adam(1e-3).accumulate(2), 3, cpu);
    assertThat(cpu.info().usedByShardsBytes()).isEqualTo(5L * 10_100 * 4).isEqualTo(g.deviceBytes());
    g.close();
    assertThat(cpu.info().usedByShardsBytes()).isZero();
  }

  @Test
  void aDeviceGetsEachTrainersGradientUploadedOncePerPushAndNothingMore() {
    OffHeapTestBackend device = new OffHeapTestBackend(parallel);
    ShardGroup g = group(adam(1e-3), 3, device);
    int before = device.uploads();
    push(g, List.of(gradient(1), gradient(2), gradient(3)));
    assertThat(device.uploads() - before).isEqualTo(3 * 2); // 3 trainers x 2 non-empty shards
  }

  @Test
  void parametersOnHostAreLiveOnTheCpuBackendAndACopyOnADevice() {
    ShardGroup cpu = group(adam(1e-3), 1, new CpuBackend(parallel));
    float[] live = cpu.parametersOnHost(0);
    assertThat(cpu.parametersOnHost(0)).isSameAs(live);
    push(cpu, List.<float[][]>of(gradient(1)));
    assertThat(live).isEqualTo(cpu.parameters(0)).isNotEqualTo(initial().get(0));

    ShardGroup dev = group(adam(1e-3), 1, new OffHeapTestBackend(parallel));
    float[] copy = dev.parametersOnHost(0);
    assertThat(dev.parametersOnHost(0)).isNotSameAs(copy).isEqualTo(copy).isEqualTo(initial().get(0));
    float[] part = new float[5];
    dev.readParameters(0, 9_998, part, 3, 2);
    assertThat(part).containsExactly(0, 0, 0, 9_998 * 0.001f, 9_999 * 0.001f); // w[i] = i * 0.001f
    assertThatThrownBy(() -> dev.readParameters(0, 9_999, part, 0, 2)).isInstanceOf(IndexOutOfBoundsException.class);
  }

  @Test
  void aTensorFrozenFromTheStartGetsTheInitialStateOfTheRuleInForceWhenItIsUnfrozen() {
    for (DeviceBackend device : List.of(new CpuBackend(parallel), new OffHeapTestBackend(parallel))) {
      ShardGroup g = group(adagrad(0.1).initialAccumulator(0.5).freeze("b"), 1, device);
      assertThat(g.state(1)).isEmpty();
      assertThat(g.stateOrInitial(1)[0]).containsOnly(0.5f).hasSize(100);
      g.setPipeline(adagrad(0.1).initialAccumulator(0.25));
      assertThat(g.state(1).get("sum")).containsOnly(0.25f).hasSize(100);
      assertThat(g.state(0).get("sum")).containsOnly(0.5f).hasSize(10_000); // w's state was created at the start
    }
  }

  @Test
  void aRestoredStateIsWhatTheNextStepsRunOnOnEveryBackend() {
    List<float[][]> state = new ArrayList<>();
    for (ShardSpec s : SHARDS) {
      float[] m = new float[s.length()];
      float[] v = new float[s.length()];
      for (int i = 0; i < m.length; i++) {
        m[i] = 0.01f * (i % 5);
        v[i] = 0.002f * (i % 3);
      }
      state.add(new float[][] {m, v});
    }
    List<Map<String, float[]>> results = new ArrayList<>();
    for (DeviceBackend device : List.of(new CpuBackend(parallel), new OffHeapTestBackend(parallel))) {
      ShardGroup g = group(adam(1e-2).freeze("b"), 2, device);
      g.restore(7, 1, state);
      assertThat(g.stateOrInitial(0)[1]).isEqualTo(state.get(0)[1]);
      assertThat(g.state(1).get("exp_avg")).isEqualTo(state.get(1)[0]); // frozen, taken over all the same
      push(g, List.of(gradient(1), gradient(-0.5f)));
      assertThat(g.updatesApplied()).isEqualTo(8);
      results.add(Map.of("w", g.parameters(0), "b", g.parameters(1), "m", g.stateOrInitial(0)[0]));
    }
    assertThat(results.get(1).get("w")).isEqualTo(results.get(0).get("w"));
    assertThat(results.get(1).get("m")).isEqualTo(results.get(0).get("m"));
    assertThat(results.get(0).get("b")).containsOnly(0.5f); // frozen
  }

  @Test
  void aMemoryLimitRefusesAGroupOverItWithNothingAllocatedAndHoldsOneUnderIt() {
    CpuBackend cpu = new CpuBackend(parallel);
    long need = 4L * 10_100 * 3; // adam, K = 1, accumulate 1: parameters + 2 state
    MemoryLimitedBackend limited = new MemoryLimitedBackend(cpu, need - 1);
    assertThatThrownBy(() -> group(adam(1e-3), 1, limited))
        .isInstanceOf(DeviceMemoryException.class)
        .hasMessageContaining("the shards need " + need + " bytes")
        .hasMessageContaining("which has " + (need - 1) + " bytes free (the device memory limit of " + (need - 1)
            + " bytes has ");
    assertThat(cpu.info().usedByShardsBytes()).isZero();
    assertThat(limited.info().usedByShardsBytes()).isZero();
    assertThat(limited.info().freeBytes()).isEqualTo(need - 1);

    MemoryLimitedBackend roomy = new MemoryLimitedBackend(cpu, need);
    ShardGroup g = group(adam(1e-3), 1, roomy);
    assertThat(roomy.info().freeBytes()).isZero();
    assertThat(roomy.info().usedByShardsBytes()).isEqualTo(need);
    ShardGroup plain = group(adam(1e-3), 1, new CpuBackend(parallel));
    push(g, List.<float[][]>of(gradient(1)));
    push(plain, List.<float[][]>of(gradient(1)));
    assertThat(g.parameters(0)).isEqualTo(plain.parameters(0));
    g.close();
    assertThat(roomy.info().freeBytes()).isEqualTo(need);
  }
}
