package dev.shardopt.engine;

import dev.shardopt.engine.device.DeviceBackend;
import dev.shardopt.engine.device.OffHeapTestBackend;
import dev.shardopt.engine.kernel.ParallelApply;

/** {@link ShardGroupTest}'s hand-worked cases on a device's path: staged uploads, device arrays. */
class ShardGroupOffHeapTest extends ShardGroupTest {
  @Override
  DeviceBackend device(ParallelApply parallel) {
    return new OffHeapTestBackend(parallel);
  }
}
