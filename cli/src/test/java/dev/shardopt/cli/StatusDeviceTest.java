package dev.shardopt.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.v1.DeviceStatus;
import dev.shardopt.v1.WorkerStatus;
import org.junit.jupiter.api.Test;

/** How status writes a worker's device, including what a device does not know of its memory. */
class StatusDeviceTest {
  @Test
  void aDeviceLineNamesTheKindTheDeviceAndItsMemory() {
    WorkerStatus h200 = WorkerStatus.newBuilder().setDevice(DeviceStatus.newBuilder().setKind("cuda")
        .setName("NVIDIA H200").setTotalBytes(150_000_000_000L).setFreeBytes(140_000_000_000L)
        .setUsedByShardsBytes(9_000_000_000L)).build();
    assertThat(StatusCommand.device(h200))
        .isEqualTo("cuda \"NVIDIA H200\": shards 9000000000 bytes, free 140000000000 of 150000000000 bytes");
    WorkerStatus unknown = WorkerStatus.newBuilder().setDevice(DeviceStatus.newBuilder().setKind("opencl")
        .setName("pthread-Intel").setTotalBytes(-1).setFreeBytes(-1).setUsedByShardsBytes(4096)).build();
    assertThat(StatusCommand.device(unknown)).isEqualTo("opencl \"pthread-Intel\": shards 4096 bytes, free unknown bytes");
    assertThat(StatusCommand.device(WorkerStatus.getDefaultInstance())).isEqualTo("not reported yet");
  }
}
