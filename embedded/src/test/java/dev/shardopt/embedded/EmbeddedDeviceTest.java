package dev.shardopt.embedded;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.shardopt.client.ModelOptions;
import dev.shardopt.client.Shardopt;
import dev.shardopt.client.ShardoptCluster;
import dev.shardopt.client.ShardoptException;
import dev.shardopt.client.Tensors;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.engine.device.CpuBackend;
import dev.shardopt.engine.device.DeviceBackend;
import dev.shardopt.engine.device.DeviceSelection;
import dev.shardopt.engine.device.DeviceUnavailableException;
import dev.shardopt.engine.device.Devices;
import dev.shardopt.engine.device.MemoryLimitedBackend;
import dev.shardopt.engine.kernel.ParallelApply;
import dev.shardopt.worker.server.WorkerServer;
import io.grpc.Status;
import java.util.List;
import java.util.concurrent.ForkJoinPool;
import org.junit.jupiter.api.Test;

/**
 * The embedded cluster's device option (for all workers and per worker, opencl here for real, a kind
 * without a provider), and a model too large for one worker's device.
 */
class EmbeddedDeviceTest {

  @Test
  void theBuildersDeviceReachesEveryWorkerAndABadOneFailsTheStart() {
    assertThatThrownBy(() -> EmbeddedCluster.builder().device("gpu"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("device 'gpu' is unknown; use one of cpu, opencl, cuda, auto");
    try (EmbeddedCluster c = EmbeddedCluster.builder().workers(2).device(DeviceSelection.cpu().withMemoryLimit(1 << 20))
        .start()) {
      assertThat(c.workers()).extracting(WorkerServer::device)
          .allSatisfy(d -> assertThat(d).isInstanceOfSatisfying(MemoryLimitedBackend.class,
              m -> assertThat(m.limitBytes()).isEqualTo(1 << 20)));
    }
  }

  /** Workers whose Devices has no provider: a build without the device modules. */
  @Test
  void aKindNotInTheWorkersBuildFailsTheStartWithOneLine() {
    EmbeddedCluster.Builder b = EmbeddedCluster.builder().workers(2).device("opencl")
        .overrideWorker(i -> binder -> binder.bind(Devices.class).toInstance(new Devices(List.of())));
    assertThatThrownBy(b::start)
        .isInstanceOf(DeviceUnavailableException.class)
        .hasMessage("device opencl 0 is unavailable: not in this build (no shardopt-device-opencl on the class path)");
  }

  @Test
  void openClWorkersAndPerWorkerDevices() {
    String name = OpenClHere.deviceName();
    try (EmbeddedCluster c = EmbeddedCluster.builder().workers(3).device("opencl")
        .worker((i, w) -> i == 1 ? w.withDevice(DeviceSelection.cpu()) : w).start()) {
      assertThat(c.workers()).extracting(w -> w.device().kind()).containsExactly("opencl", "cpu", "opencl");
      assertThat(c.workers().get(1).device()).isInstanceOf(CpuBackend.class);
      assertThat(c.workers().get(2).device().info().name()).isEqualTo(name);
    }
    assertThatThrownBy(() -> EmbeddedCluster.builder().workers(1).device(DeviceSelection.of("opencl").withIndex(5))
        .start())
        .isInstanceOf(DeviceUnavailableException.class)
        .hasMessageStartingWith("device opencl 5 is unavailable: opencl: no device at index 5; the devices here are [0] "
            + name + " (");
  }

  @Test
  void aModelOneWorkerCannotHoldIsRefusedAndTheOthersReleaseTheirShards() throws Exception {
    // worker 2 gets a small device through its Guice module (as a test swaps in a faulty part)
    DeviceBackend small = new MemoryLimitedBackend(new CpuBackend(new ParallelApply(ForkJoinPool.commonPool(), 1)), 50_000);
    EmbeddedCluster.Builder b = EmbeddedCluster.builder().workers(3).worker((i, c) -> c.withThreads(1))
        .overrideWorker(i -> i == 2 ? binder -> binder.bind(DeviceBackend.class).toInstance(small) : null);
    try (EmbeddedCluster cluster = b.start(); ShardoptCluster client = Shardopt.connect(cluster.coordinatorAddress())) {
      assertThat(cluster.workers().get(2).device()).isSameAs(small);
      // 3 blocks of 8192 floats, one per worker; adam: parameters and 2 state slots, 3 x 32768 bytes each
      assertThatThrownBy(() -> client.createModel(ModelOptions.named("m").pipeline(Pipeline.parse("adam(1e-3)"))
              .tensors(Tensors.of("w", 3 * 8192))))
          .isInstanceOfSatisfying(ShardoptException.class, e -> {
            assertThat(e.code()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
            assertThat(e.serverMessage()).contains("worker workers/w3 cannot hold its shards of models/m: the shards need"
                + " 98304 bytes (1 shard of 8192 floats in all, each with parameters, 2 state slots) on the cpu device,"
                + " which has 50000 bytes free");
          });
      assertThat(client.listModels()).isEmpty();
      for (WorkerServer w : cluster.workers()) {
        assertThat(w.store().models()).as(w.name()).isEmpty();
        assertThat(w.device().info().usedByShardsBytes()).as(w.name()).isZero();
      }
      // sgd needs the parameters alone, 32768 bytes: it fits everywhere
      client.createModel(ModelOptions.named("m").pipeline(Pipeline.parse("sgd(0.1)")).tensors(Tensors.of("w", 3 * 8192)));
      assertThat(cluster.workers()).extracting(w -> w.device().info().usedByShardsBytes())
          .containsExactly(32_768L, 32_768L, 32_768L);
    }
  }
}
