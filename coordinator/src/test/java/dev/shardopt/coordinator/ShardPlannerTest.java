package dev.shardopt.coordinator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.shardopt.coordinator.ShardPlanner.WorkerSlot;
import dev.shardopt.v1.Shard;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * ShardPlanner against its documented rules: tensors laid end to end in whole 8192-element blocks,
 * the line cut into equal contiguous runs (one per worker), cuts on block boundaries, shards capped at
 * maxShardBlocks. Expected shard lists are worked out by hand in the comments.
 */
class ShardPlannerTest {
  private static final long B = 8192; // ReductionBlocks.BLOCK, the documented block size

  private static List<WorkerSlot> workers(int n) {
    List<WorkerSlot> out = new ArrayList<>();
    for (int i = 1; i <= n; i++) {
      out.add(new WorkerSlot("workers/w" + i, "host" + i + ":" + (9000 + i)));
    }
    return out;
  }

  private static List<String> names(int n) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add("t" + i);
    }
    return out;
  }

  private static Shard shard(String tensor, int index, long offset, long length, int worker) {
    return Shard.newBuilder().setTensor(tensor).setTensorIndex(index).setOffset(offset).setLength(length)
        .setWorker("workers/w" + worker).setAddress("host" + worker + ":" + (9000 + worker)).build();
  }

  private static long ceilBlocks(long n) {
    return (n + B - 1) / B;
  }

  /** Checks every documented invariant of a plan. */
  private static void checkPlan(List<String> names, List<Long> sizes, List<WorkerSlot> workers, long maxShardBlocks,
      List<Shard> plan) {
    Map<String, String> addressOf = new HashMap<>();
    workers.forEach(w -> addressOf.put(w.name(), w.address()));
    Map<Integer, List<Shard>> byTensor = plan.stream().collect(Collectors.groupingBy(Shard::getTensorIndex));
    assertThat(byTensor.keySet()).as("every tensor appears").hasSize(names.size());
    for (int t = 0; t < names.size(); t++) {
      long size = sizes.get(t);
      List<Shard> shards = new ArrayList<>(byTensor.get(t));
      shards.sort(Comparator.comparingLong(Shard::getOffset));
      if (size == 0) {
        assertThat(shards).as("empty tensor %d appears exactly once", t).hasSize(1);
        assertThat(shards.get(0).getOffset()).isZero();
        assertThat(shards.get(0).getLength()).isZero();
      }
      long next = 0;
      for (Shard s : shards) {
        assertThat(s.getTensor()).isEqualTo(names.get(t));
        assertThat(s.getOffset()).as("contiguous, non-overlapping: %s", s).isEqualTo(next);
        assertThat(s.getOffset() % B).as("offset on a block boundary: %s", s).isZero();
        if (size > 0) {
          assertThat(s.getLength()).as("no empty shard of a non-empty tensor: %s", s).isPositive();
        }
        if (maxShardBlocks > 0) {
          assertThat(s.getLength()).as("capped: %s", s).isLessThanOrEqualTo(maxShardBlocks * B);
        }
        assertThat(addressOf).containsEntry(s.getWorker(), s.getAddress());
        next = s.getOffset() + s.getLength();
      }
      assertThat(next).as("tensor %d covered up to its size", t).isEqualTo(size);
    }
    // Load in padded blocks per worker (each shard padded to whole blocks), workers without shards included.
    Map<String, Long> load = new HashMap<>();
    workers.forEach(w -> load.put(w.name(), 0L));
    for (Shard s : plan) {
      load.merge(s.getWorker(), ceilBlocks(s.getLength()), Long::sum);
    }
    long total = sizes.stream().mapToLong(ShardPlannerTest::ceilBlocks).sum();
    assertThat(load.values().stream().mapToLong(Long::longValue).sum()).as("padded blocks all placed").isEqualTo(total);
    long max = load.values().stream().mapToLong(Long::longValue).max().orElseThrow();
    long min = load.values().stream().mapToLong(Long::longValue).min().orElseThrow();
    assertThat(max - min).as("balanced to within one block: %s", load).isLessThanOrEqualTo(1);
  }

  @Test
  void handWorkedExampleOfSplittingAndPacking() {
    // Padded blocks 3, 1, 2 = 6; two workers take 3 blocks each: w1 = t0 (blocks 0-2), w2 = t1 + t2.
    List<String> names = List.of("a", "b", "c");
    List<Long> sizes = List.of(20_000L, 100L, 9_000L);
    List<Shard> plan = ShardPlanner.plan(names, sizes, workers(2), 0);
    assertThat(plan).containsExactly(
        shard("a", 0, 0, 20_000, 1),
        shard("b", 1, 0, 100, 2),
        shard("c", 2, 0, 9_000, 2));
    checkPlan(names, sizes, workers(2), 0, plan);
  }

  @Test
  void handWorkedExampleOfOneTensorOverThreeWorkers() {
    // 40000 elements = 5 blocks (the last one 7232 long). Cuts at floor(5i/3) = 0, 1, 3, 5:
    // w1 = block 0, w2 = blocks 1-2, w3 = blocks 3-4 (24576 .. 40000).
    List<Shard> plan = ShardPlanner.plan(List.of("x"), List.of(40_000L), workers(3), 0);
    assertThat(plan).containsExactly(
        shard("x", 0, 0, 8192, 1),
        shard("x", 0, 8192, 16384, 2),
        shard("x", 0, 24576, 40_000 - 24576, 3));
  }

  @Test
  void threeCopiesOnFourWorkersGoToTheNextWorkersInTurn() {
    // 4 blocks, one per worker; copy k of worker i's run goes to worker i + k (mod 4)
    List<Shard> plan = ShardPlanner.plan(List.of("x"), List.of(4 * B), workers(4), 0, 3);
    assertThat(plan).extracting(s -> s.getOffset() / B + ":" + s.getReplica() + "@" + s.getWorker()).containsExactly(
        "0:0@workers/w1", "0:1@workers/w2", "0:2@workers/w3",
        "1:0@workers/w2", "1:1@workers/w3", "1:2@workers/w4",
        "2:0@workers/w3", "2:1@workers/w4", "2:2@workers/w1",
        "3:0@workers/w4", "3:1@workers/w1", "3:2@workers/w2");
    // each worker holds 3 of the 4 runs, the same bytes each
    for (int w = 1; w <= 4; w++) {
      String name = "workers/w" + w;
      assertThat(plan.stream().filter(s -> s.getWorker().equals(name)).mapToLong(Shard::getLength).sum())
          .isEqualTo(3L * B);
    }
    // the primaries alone are the plan without replicas
    assertThat(plan.stream().filter(s -> s.getReplica() == 0).toList())
        .isEqualTo(ShardPlanner.plan(List.of("x"), List.of(4 * B), workers(4), 0));
    assertThatThrownBy(() -> ShardPlanner.plan(List.of("x"), List.of(B), workers(2), 0, 3))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("3 replicas need as many workers, and there are 2");
  }

  @Test
  void maxShardBlocksCapsShardsSoAWorkerHoldsSeveralOfOneTensor() {
    // 10 blocks on 2 workers: w1 = blocks 0-4, w2 = 5-9; with at most 2 blocks a shard:
    // w1: [0,2) [2,4) [4,5); w2: [5,7) [7,9) [9,10).
    List<Shard> plan = ShardPlanner.plan(List.of("x"), List.of(10 * B), workers(2), 2);
    assertThat(plan).containsExactly(
        shard("x", 0, 0, 2 * B, 1),
        shard("x", 0, 2 * B, 2 * B, 1),
        shard("x", 0, 4 * B, B, 1),
        shard("x", 0, 5 * B, 2 * B, 2),
        shard("x", 0, 7 * B, 2 * B, 2),
        shard("x", 0, 9 * B, B, 2));
    checkPlan(List.of("x"), List.of(10 * B), workers(2), 2, plan);
  }

  @Test
  void maxShardBlocksOfOneGivesOneShardPerBlock() {
    List<Long> sizes = List.of(3 * B + 5, 7L);
    List<Shard> plan = ShardPlanner.plan(names(2), sizes, workers(1), 1);
    assertThat(plan).containsExactly(
        shard("t0", 0, 0, B, 1),
        shard("t0", 0, B, B, 1),
        shard("t0", 0, 2 * B, B, 1),
        shard("t0", 0, 3 * B, 5, 1),
        shard("t1", 1, 0, 7, 1));
  }

  @Test
  void largeTensorIsSplitEvenlyAcrossAllWorkers() {
    // 100 blocks on 4 workers: 25 blocks each, one shard per worker.
    List<Shard> plan = ShardPlanner.plan(List.of("big"), List.of(100 * B), workers(4), 0);
    assertThat(plan).containsExactly(
        shard("big", 0, 0, 25 * B, 1),
        shard("big", 0, 25 * B, 25 * B, 2),
        shard("big", 0, 50 * B, 25 * B, 3),
        shard("big", 0, 75 * B, 25 * B, 4));
  }

  @Test
  void smallTensorsArePackedWhole() {
    // Eight one-block tensors on two workers: four whole tensors each, in model order.
    List<Long> sizes = List.of(100L, 100L, 100L, 100L, 100L, 100L, 100L, 100L);
    List<Shard> plan = ShardPlanner.plan(names(8), sizes, workers(2), 0);
    List<Shard> expected = new ArrayList<>();
    for (int t = 0; t < 8; t++) {
      expected.add(shard("t" + t, t, 0, 100, t < 4 ? 1 : 2));
    }
    assertThat(plan).containsExactlyElementsOf(expected);
  }

  @Test
  void emptyTensorStillAppearsOnce() {
    List<Long> sizes = List.of(B, 0L, B);
    List<Shard> plan = ShardPlanner.plan(names(3), sizes, workers(2), 0);
    checkPlan(names(3), sizes, workers(2), 0, plan);
    assertThat(plan.stream().filter(s -> s.getTensorIndex() == 1)).singleElement()
        .satisfies(s -> {
          assertThat(s.getTensor()).isEqualTo("t1");
          assertThat(s.getLength()).isZero();
          assertThat(s.getOffset()).isZero();
        });
    // the non-empty tensors: one block each, one per worker
    assertThat(plan).contains(shard("t0", 0, 0, B, 1), shard("t2", 2, 0, B, 2));
  }

  @Test
  void modelOfOnlyEmptyTensors() {
    List<Long> sizes = List.of(0L, 0L);
    List<Shard> plan = ShardPlanner.plan(names(2), sizes, workers(3), 0);
    assertThat(plan).hasSize(2);
    checkPlan(names(2), sizes, workers(3), 0, plan);
  }

  @Test
  void moreWorkersThanBlocksLeavesSomeWorkersWithoutShards() {
    // 2 blocks on 5 workers: cuts floor(2i/5) = 0,0,0,1,1,2 -> only w3 (block 0) and w5 (block 1) hold data.
    List<Long> sizes = List.of(100L, 200L);
    List<Shard> plan = ShardPlanner.plan(names(2), sizes, workers(5), 0);
    assertThat(plan).containsExactly(shard("t0", 0, 0, 100, 3), shard("t1", 1, 0, 200, 5));
    Set<String> holders = plan.stream().map(Shard::getWorker).collect(Collectors.toSet());
    assertThat(holders).hasSize(2);
    checkPlan(names(2), sizes, workers(5), 0, plan);
  }

  @Test
  void oneWorkerGetsEverythingWholeWithoutALimit() {
    List<Long> sizes = List.of(20_000L, 0L, 5L, 3 * B);
    List<Shard> plan = ShardPlanner.plan(names(4), sizes, workers(1), 0);
    assertThat(plan).containsExactly(
        shard("t0", 0, 0, 20_000, 1),
        shard("t1", 1, 0, 0, 1),
        shard("t2", 2, 0, 5, 1),
        shard("t3", 3, 0, 3 * B, 1));
  }

  @Test
  void noWorkersIsRefused() {
    assertThatThrownBy(() -> ShardPlanner.plan(List.of("x"), List.of(1L), List.of(), 0))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no workers");
  }

  @Test
  void randomModelsKeepEveryInvariant() {
    Random rnd = new Random(20240611);
    for (int round = 0; round < 300; round++) {
      int tensors = 1 + rnd.nextInt(12);
      List<Long> sizes = new ArrayList<>();
      for (int t = 0; t < tensors; t++) {
        long size = switch (rnd.nextInt(5)) {
          case 0 -> 0;
          case 1 -> 1 + rnd.nextInt(100);
          case 2 -> B * (1 + rnd.nextInt(8)); // exact multiples of a block
          case 3 -> B * rnd.nextInt(8) + 1 + rnd.nextInt((int) B - 1);
          default -> 1 + rnd.nextInt(200 * (int) B);
        };
        sizes.add(size);
      }
      int w = 1 + rnd.nextInt(9);
      long max = rnd.nextBoolean() ? 0 : 1 + rnd.nextInt(20);
      List<Shard> plan = ShardPlanner.plan(names(tensors), sizes, workers(w), max);
      checkPlan(names(tensors), sizes, workers(w), max, plan);
      // Without a cap, a worker holds at most one shard of a tensor (contiguous runs).
      if (max == 0) {
        Set<String> seen = new LinkedHashSet<>();
        for (Shard s : plan) {
          assertThat(seen.add(s.getWorker() + "/" + s.getTensorIndex())).as("one run per worker and tensor").isTrue();
        }
      }
    }
  }
}
