package dev.shardopt.device.opencl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.shardopt.engine.device.CpuBackend;
import dev.shardopt.engine.device.DeviceArray;
import dev.shardopt.engine.device.DeviceInfo;
import dev.shardopt.engine.device.DeviceMemoryException;
import dev.shardopt.engine.kernel.ParallelApply;
import dev.shardopt.engine.kernel.SgdKernel;
import dev.shardopt.engine.kernel.StepScalars;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.Test;

/** The memory budget, release, and use after release or close. */
class MemoryAndLifecycleTest {
  private static final long MIB = 1L << 20;

  @Test
  void anArrayThatDoesNotFitIsRefusedNamingTheSizesAndNothingIsAllocated() {
    OpenClDevices.requirePlatform();
    try (OpenClBackend b = OpenClBackend.open(0, MIB)) {
      assertEquals(MIB, b.info().totalBytes());
      DeviceArray a = b.allocate(100_000);
      assertEquals(400_000, b.info().usedByShardsBytes());
      DeviceMemoryException e = assertThrows(DeviceMemoryException.class, () -> b.allocate(200_000));
      assertEquals(800_000, e.requestedBytes());
      assertEquals(MIB - 400_000, e.freeBytes());
      assertTrue(e.getMessage().contains("no room for 800000 bytes (200000 floats): 400000 of 1048576 "
          + "bytes in use, 648576 free"), e.getMessage());
      assertEquals(400_000, b.info().usedByShardsBytes(), "nothing half-allocated");
      b.release(a);
      assertEquals(0, b.info().usedByShardsBytes());
      DeviceArray c = b.allocate(200_000);
      DeviceInfo info = b.info();
      assertEquals(800_000, info.usedByShardsBytes());
      assertEquals(MIB - 800_000, info.freeBytes());
      assertEquals("opencl", info.kind());
      b.release(c);
    }
  }

  @Test
  void anArrayLargerThanTheDevicesLargestAllocationIsRefused() {
    try (OpenClBackend b = OpenClDevices.open()) {
      long maxAlloc = b.maxAllocBytes();
      assumeTrue(maxAlloc < 4L * Integer.MAX_VALUE, "the device allocates 8 GiB arrays: nothing to refuse");
      int floats = (int) Math.min(Integer.MAX_VALUE, maxAlloc / 4 + 1);
      DeviceMemoryException e = assertThrows(DeviceMemoryException.class, () -> b.allocate(floats));
      assertEquals(4L * floats, e.requestedBytes());
      assertTrue(e.getMessage().contains("larger than the device's largest allocation, " + maxAlloc + " bytes"),
          e.getMessage());
      assertEquals(0, b.info().usedByShardsBytes());
    }
  }

  @Test
  void releaseTwiceIsANoOpAndUseAfterReleaseFails() {
    try (OpenClBackend b = OpenClDevices.open()) {
      DeviceArray a = b.allocate(10);
      DeviceArray empty = b.allocate(0);
      assertEquals(0, empty.length());
      b.release(a);
      b.release(a);
      b.release(empty);
      assertEquals(0, b.info().usedByShardsBytes());
      assertThrows(IllegalStateException.class, () -> b.fill(a, 1f));
      assertThrows(IllegalStateException.class, () -> b.download(a, 0, new float[10], 0, 10));
      assertThrows(IllegalStateException.class, () -> b.upload(new float[0], 0, empty, 0, 0));
    }
  }

  @Test
  void closeFreesEverythingAndLaterCallsFail() {
    OpenClBackend b = OpenClDevices.open();
    DeviceArray a = b.allocate(1000);
    b.allocate(2000);
    assertEquals(12_000, b.info().usedByShardsBytes());
    b.close();
    assertEquals(0, b.info().usedByShardsBytes());
    assertThrows(IllegalStateException.class, () -> b.allocate(1));
    assertThrows(IllegalStateException.class, () -> b.fill(a, 1f));
    b.close(); // twice: a no-op
  }

  @Test
  void arraysOfAnotherBackendAndBadArgumentsAreRejected() {
    ExecutorService ex = Executors.newSingleThreadExecutor();
    try (OpenClBackend b = OpenClDevices.open(); OpenClBackend other = OpenClDevices.open()) {
      DeviceArray heap = new CpuBackend(new ParallelApply(ex, 1)).allocate(4);
      DeviceArray foreign = other.allocate(4);
      DeviceArray a = b.allocate(4);
      assertThrows(IllegalArgumentException.class, () -> b.fill(heap, 0f));
      assertThrows(IllegalArgumentException.class, () -> b.copy(foreign, a));
      assertThrows(IllegalArgumentException.class, () -> b.allocate(-1));
      DeviceArray shorter = b.allocate(3);
      assertThrows(IllegalArgumentException.class,
          () -> b.apply(new SgdKernel(), a, shorter, new DeviceArray[0], StepScalars.of(1, 0.1)));
      assertThrows(IllegalArgumentException.class,
          () -> b.apply(new SgdKernel(), a, a, new DeviceArray[] {a}, StepScalars.of(1, 0.1)));
    } finally {
      ex.shutdownNow();
    }
  }
}
