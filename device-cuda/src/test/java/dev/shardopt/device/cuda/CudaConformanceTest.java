package dev.shardopt.device.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.shardopt.engine.device.CpuBackend;
import dev.shardopt.engine.device.DeviceArray;
import dev.shardopt.engine.device.DeviceInfo;
import dev.shardopt.engine.device.DeviceMemoryException;
import dev.shardopt.engine.device.DeviceUnavailableException;
import dev.shardopt.engine.kernel.ParallelApply;
import dev.shardopt.engine.kernel.ReductionBlocks;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The cuda backend against the cpu backend, bit for bit, on a real GPU; skipped (by an assumption)
 * where the backend does not open. The same comparisons run on the GPU machine through
 * {@code scripts/gpu-check.sh}'s probe, which needs no Maven there.
 */
class CudaConformanceTest {
  private static ExecutorService pool;
  private static CudaBackend cuda;
  private static CpuBackend cpu;

  @BeforeAll
  static void open() {
    try {
      cuda = new CudaBackendProvider().openCuda(0);
    } catch (DeviceUnavailableException e) {
      Assumptions.abort("no CUDA here: " + e.getMessage());
    }
    pool = Executors.newFixedThreadPool(2);
    cpu = new CpuBackend(new ParallelApply(pool, 3));
  }

  @AfterAll
  static void close() {
    if (cuda != null) {
      cuda.close();
    }
    if (pool != null) {
      pool.shutdownNow();
    }
  }

  @Test
  void everyComparisonIsBitwiseEqualOnARaggedSize() {
    List<BackendComparison.Check> failed = new BackendComparison(cuda, cpu).all(3 * ReductionBlocks.BLOCK + 1000)
        .stream().filter(c -> !c.passed()).toList();
    assertThat(failed).isEmpty();
  }

  @Test
  void everyComparisonIsBitwiseEqualOnTinySizes() {
    for (int n : new int[] {1, 63, 64, 65, 255, 257, ReductionBlocks.BLOCK}) {
      List<BackendComparison.Check> failed = new BackendComparison(cuda, cpu).all(n)
          .stream().filter(c -> !c.passed()).toList();
      assertThat(failed).as("n=%d", n).isEmpty();
    }
  }

  @Test
  void anArrayBeyondTheFreeMemoryIsRefusedNamingTheSizesAndNothingIsLeftAllocated() {
    DeviceInfo before = cuda.info();
    List<DeviceArray> held = new ArrayList<>();
    try {
      DeviceMemoryException e = null;
      for (int i = 0; i < 64 && e == null; i++) {
        try {
          held.add(cuda.allocate(Integer.MAX_VALUE - 8));
        } catch (DeviceMemoryException ex) {
          e = ex;
        }
      }
      assertThat(e).as("64 arrays of 8 GiB did not exhaust the device").isNotNull();
      assertThat(e.requestedBytes()).isEqualTo(4L * (Integer.MAX_VALUE - 8));
      assertThat(e.freeBytes()).isLessThan(e.requestedBytes());
      assertThat(e.getMessage()).contains("needs 8.00 GiB (" + 4L * (Integer.MAX_VALUE - 8) + " bytes")
          .contains("free of");
    } finally {
      held.forEach(cuda::release);
    }
    assertThat(cuda.info().usedByShardsBytes()).isEqualTo(before.usedByShardsBytes());
  }

  @Test
  void foreignReleasedAndMismatchedArraysAreRefused() {
    DeviceArray a = cuda.allocate(10);
    DeviceArray b = cuda.allocate(11);
    DeviceArray heap = cpu.allocate(10);
    try {
      assertThatThrownBy(() -> cuda.copy(heap, a)).isInstanceOf(IllegalArgumentException.class)
          .hasMessageStartingWith("not an array of this cuda backend");
      assertThatThrownBy(() -> cuda.copy(a, b)).isInstanceOf(IllegalArgumentException.class)
          .hasMessage("copy of 10 floats into 11");
      assertThatThrownBy(() -> cuda.upload(new float[5], 0, a, 8, 5)).isInstanceOf(IndexOutOfBoundsException.class);
    } finally {
      cuda.release(a);
      cuda.release(b);
    }
    assertThatThrownBy(() -> cuda.fill(a, 1f)).isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("used after release");
    cuda.release(a); // twice: a no-op
  }
}
