package dev.shardopt.coordinator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.shardopt.coordinator.ShardPlanner.WorkerSlot;
import dev.shardopt.rpc.ApiException;
import dev.shardopt.v1.DeviceStatus;
import dev.shardopt.v1.HeartbeatRequest;
import dev.shardopt.v1.ModelProgress;
import dev.shardopt.v1.WorkerStatus;
import io.grpc.Status;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.NullSource;
import org.junit.jupiter.params.provider.ValueSource;

class WorkerRegistryTest {
  // heartbeats every 100 ms; unhealthy after 3 missed intervals, i.e. more than 300 ms of silence
  private static final long BEAT = 100;
  private static final int MISSED = 3;

  private final AtomicLong now = new AtomicLong(1_000_000);
  private final WorkerRegistry registry = new WorkerRegistry(BEAT, MISSED, now::get);

  private void advance(long millis) {
    now.addAndGet(millis);
  }

  private static HeartbeatRequest beat(String worker) {
    return HeartbeatRequest.newBuilder().setWorker(worker).build();
  }

  @Test
  void registerAssignsNamesInOrder() {
    assertThat(registry.register("alpha:7001")).isEqualTo("workers/w1");
    assertThat(registry.register("beta:7002")).isEqualTo("workers/w2");
    assertThat(registry.register("10.0.0.3:7003")).isEqualTo("workers/w3");
    assertThat(registry.heartbeatMillis()).isEqualTo(BEAT);
  }

  @Test
  void sameAddressKeepsItsNameAndUsesNoNewNumber() {
    assertThat(registry.register("alpha:7001")).isEqualTo("workers/w1");
    assertThat(registry.register("beta:7002")).isEqualTo("workers/w2");
    assertThat(registry.register("alpha:7001")).isEqualTo("workers/w1");
    assertThat(registry.register("gamma:7003")).isEqualTo("workers/w3");
    // the same host on another port is another worker
    assertThat(registry.register("alpha:7004")).isEqualTo("workers/w4");
    assertThat(registry.statuses(Map.of())).hasSize(4);
  }

  @ParameterizedTest
  @NullSource
  @ValueSource(strings = {"", "localhost", "host:", ":8080", "host:port", "a b:80", "host:123456", "host:80:90",
      " host:80", "host:80 "})
  void badAddressIsInvalidArgument(String address) {
    assertThatThrownBy(() -> registry.register(address))
        .isInstanceOfSatisfying(ApiException.class, e -> assertThat(e.code()).isEqualTo(Status.Code.INVALID_ARGUMENT))
        .hasMessageContaining("host:port");
    assertThat(registry.statuses(Map.of())).isEmpty();
  }

  @ParameterizedTest
  @ValueSource(strings = {"host:65536", "host:99999"})
  void portOutOfRangeIsInvalidArgument(String address) {
    assertThatThrownBy(() -> registry.register(address))
        .isInstanceOfSatisfying(ApiException.class, e -> assertThat(e.code()).isEqualTo(Status.Code.INVALID_ARGUMENT));
  }

  @Test
  void heartbeatOfAnUnknownWorkerIsNotFound() {
    registry.register("alpha:7001");
    assertThatThrownBy(() -> registry.heartbeat(beat("workers/w7")))
        .isInstanceOfSatisfying(ApiException.class, e -> assertThat(e.code()).isEqualTo(Status.Code.NOT_FOUND))
        .hasMessageContaining("workers/w7");
  }

  @Test
  void healthExpiresAfterMissedBeatsAndReturnsWithAHeartbeat() {
    String w = registry.register("alpha:7001");
    assertThat(registry.healthy(w)).isTrue();
    advance(BEAT * MISSED - 50); // 250 ms: two and a half intervals missed
    assertThat(registry.healthy(w)).isTrue();
    assertThat(registry.beating(w)).isTrue();
    advance(100); // 350 ms: more than three
    assertThat(registry.healthy(w)).isFalse();
    assertThat(registry.beating(w)).isFalse();
    assertThat(registry.healthyWorkers()).isEmpty();

    registry.heartbeat(beat(w));
    assertThat(registry.healthy(w)).isTrue();
    advance(BEAT * MISSED - 1);
    assertThat(registry.healthy(w)).isTrue();
    advance(2);
    assertThat(registry.healthy(w)).isFalse();
  }

  @Test
  void reRegisteringRestoresHealth() {
    String w = registry.register("alpha:7001");
    advance(10_000);
    assertThat(registry.healthy(w)).isFalse();
    assertThat(registry.register("alpha:7001")).isEqualTo(w);
    assertThat(registry.healthy(w)).isTrue();
  }

  @Test
  void markUnhealthyLastsUntilTheNextHeartbeat() {
    String w = registry.register("alpha:7001");
    registry.markUnhealthy(w);
    assertThat(registry.healthy(w)).isFalse();
    assertThat(registry.beating(w)).as("still alive as far as heartbeats go").isTrue();
    advance(BEAT);
    assertThat(registry.healthy(w)).as("time alone does not heal it").isFalse();
    registry.heartbeat(beat(w));
    assertThat(registry.healthy(w)).isTrue();

    registry.markUnhealthy(w);
    assertThat(registry.healthy(w)).isFalse();
    registry.register("alpha:7001"); // a restart heals it too
    assertThat(registry.healthy(w)).isTrue();
  }

  @Test
  void unknownNamesAreNeitherHealthyNorBeatingAndMarkingThemIsHarmless() {
    assertThat(registry.healthy("workers/w1")).isFalse();
    assertThat(registry.beating("workers/w1")).isFalse();
    registry.markUnhealthy("workers/w1");
    assertThat(registry.statuses(Map.of())).isEmpty();
  }

  @Test
  void healthyWorkersInRegistrationOrder() {
    String w1 = registry.register("alpha:7001");
    String w2 = registry.register("beta:7002");
    String w3 = registry.register("gamma:7003");
    assertThat(registry.healthyWorkers()).containsExactly(
        new WorkerSlot(w1, "alpha:7001"), new WorkerSlot(w2, "beta:7002"), new WorkerSlot(w3, "gamma:7003"));

    registry.markUnhealthy(w2);
    assertThat(registry.healthyWorkers()).containsExactly(
        new WorkerSlot(w1, "alpha:7001"), new WorkerSlot(w3, "gamma:7003"));

    advance(200);
    registry.heartbeat(beat(w2)); // heals w2
    registry.heartbeat(beat(w3));
    advance(200); // w1 silent for 400 ms now
    assertThat(registry.healthyWorkers()).containsExactly(
        new WorkerSlot(w2, "beta:7002"), new WorkerSlot(w3, "gamma:7003"));
  }

  @Test
  void statusesReportEachWorker() {
    String w1 = registry.register("alpha:7001");
    String w2 = registry.register("beta:7002");
    advance(50);
    registry.heartbeat(HeartbeatRequest.newBuilder().setWorker(w2).setBytesIn(1000).setBytesOut(2000).build());
    advance(30);
    registry.heartbeat(HeartbeatRequest.newBuilder().setWorker(w2).setBytesIn(1500).setBytesOut(2500).build());
    advance(400);
    registry.heartbeat(beat(w2));
    advance(20);
    // w1: silent for 500 ms (unhealthy); w2: last beat 20 ms ago, byte counters as of that (empty) beat
    List<WorkerStatus> statuses = registry.statuses(Map.of(w1, 3));
    assertThat(statuses).containsExactly(
        WorkerStatus.newBuilder().setName(w1).setAddress("alpha:7001").setHealthy(false).setMillisSinceHeartbeat(500)
            .setBytesIn(0).setBytesOut(0).setShards(3).build(),
        WorkerStatus.newBuilder().setName(w2).setAddress("beta:7002").setHealthy(true).setMillisSinceHeartbeat(20)
            .setBytesIn(0).setBytesOut(0).setShards(0).build());
  }

  @Test
  void statusesCarryTheLatestByteCounters() {
    String w1 = registry.register("alpha:7001");
    registry.heartbeat(HeartbeatRequest.newBuilder().setWorker(w1).setBytesIn(1000).setBytesOut(2000).build());
    registry.heartbeat(HeartbeatRequest.newBuilder().setWorker(w1).setBytesIn(1500).setBytesOut(2500).build());
    advance(7);
    assertThat(registry.statuses(Map.of(w1, 2, "workers/w99", 5))).containsExactly(
        WorkerStatus.newBuilder().setName(w1).setAddress("alpha:7001").setHealthy(true).setMillisSinceHeartbeat(7)
            .setBytesIn(1500).setBytesOut(2500).setShards(2).build());
  }

  private static DeviceStatus device(String kind, String name, long total, long free, long used) {
    return DeviceStatus.newBuilder().setKind(kind).setName(name).setTotalBytes(total).setFreeBytes(free)
        .setUsedByShardsBytes(used).build();
  }

  @Test
  void statusesCarryEachWorkersDeviceAsItsLatestRegistrationOrHeartbeatReportedIt() {
    DeviceStatus h200 = device("cuda", "NVIDIA H200", 150_000_000_000L, 149_000_000_000L, 0);
    String w1 = registry.register("alpha:7001", h200);
    String w2 = registry.register("beta:7002"); // a worker that reports no device
    assertThat(registry.statuses(Map.of())).extracting(WorkerStatus::hasDevice).containsExactly(true, false);
    assertThat(registry.statuses(Map.of()).get(0).getDevice()).isEqualTo(h200);

    DeviceStatus loaded = device("cuda", "NVIDIA H200", 150_000_000_000L, 140_000_000_000L, 9_000_000_000L);
    registry.heartbeat(HeartbeatRequest.newBuilder().setWorker(w1).setDevice(loaded).build());
    registry.heartbeat(beat(w1)); // a beat without a device keeps the last one
    DeviceStatus heap = device("cpu", "Java heap, 4 threads", 4_000_000, 3_000_000, 1_000);
    registry.heartbeat(HeartbeatRequest.newBuilder().setWorker(w2).setDevice(heap).build());
    assertThat(registry.statuses(Map.of())).extracting(WorkerStatus::getDevice).containsExactly(loaded, heap);

    // a restarted worker registers again under its name, with its device as it is now
    DeviceStatus opencl = device("opencl", "pthread-Intel", -1, -1, 0);
    assertThat(registry.register("alpha:7001", opencl)).isEqualTo(w1);
    assertThat(registry.statuses(Map.of()).get(0).getDevice()).isEqualTo(opencl);
  }

  @Test
  void statusesShowAMarkedWorkerAsUnhealthy() {
    String w1 = registry.register("alpha:7001");
    registry.markUnhealthy(w1);
    assertThat(registry.statuses(Map.of())).singleElement()
        .satisfies(s -> assertThat(s.getHealthy()).isFalse());
  }

  @Test
  void progressComesFromTheLatestHeartbeats() {
    String w1 = registry.register("alpha:7001");
    String w2 = registry.register("beta:7002");
    ModelProgress a1 = ModelProgress.newBuilder().setModel("models/a").setStep(4).setPushes(8).build();
    ModelProgress b1 = ModelProgress.newBuilder().setModel("models/b").setStep(1).build();
    ModelProgress a2 = ModelProgress.newBuilder().setModel("models/a").setStep(5).setPushes(10).build();
    registry.heartbeat(HeartbeatRequest.newBuilder().setWorker(w1).addModels(a1).addModels(b1).build());
    registry.heartbeat(HeartbeatRequest.newBuilder().setWorker(w2).addModels(a2).build());
    assertThat(registry.lastProgress(w1, "models/a")).contains(a1);
    assertThat(registry.lastProgress(w2, "models/a")).contains(a2);
    assertThat(registry.lastProgress(w1, "models/b")).contains(b1);
    assertThat(registry.lastProgress(w2, "models/b")).isEmpty();
    assertThat(registry.lastProgress(w1, "models/c")).isEmpty();
    assertThat(registry.lastProgress("workers/w9", "models/a")).as("unknown worker").isEmpty();

    // a later heartbeat replaces the worker's whole report
    registry.heartbeat(beat(w1));
    assertThat(registry.lastProgress(w1, "models/a")).isEmpty();
    assertThat(registry.lastProgress(w2, "models/a")).contains(a2);
    assertThat(registry.lastProgress(w1, "models/b")).isEmpty();
  }

  /** What a copy's watch asks of its workers: silent for more than the failure timeout (3 beats). */
  @Test
  void aWorkerIsSilentAtItsAddressOnlyAfterTheFailureTimeoutWithoutABeat() {
    String w = registry.register("alpha:7001");
    registry.register("beta:7002");
    advance(300);
    assertThat(registry.silentAt("alpha:7001")).as("300 ms: the failure timeout, not past it").isFalse();
    advance(1);
    registry.heartbeat(beat("workers/w2"));
    assertThat(registry.silentAt("alpha:7001")).isTrue();
    assertThat(registry.silentAt("beta:7002")).isFalse();
    registry.heartbeat(beat(w));
    assertThat(registry.silentAt("alpha:7001")).isFalse();
    assertThat(registry.silentAt("gamma:7003")).as("an address no worker has").isFalse();
  }
}
