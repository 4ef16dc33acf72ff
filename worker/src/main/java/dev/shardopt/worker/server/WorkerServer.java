package dev.shardopt.worker.server;

import com.google.inject.Guice;
import com.google.inject.Module;
import dev.shardopt.engine.device.DeviceBackend;
import dev.shardopt.engine.device.DeviceInfo;
import dev.shardopt.engine.device.DeviceUnavailableException;
import dev.shardopt.rpc.GrpcServers;
import dev.shardopt.rpc.TensorBytes;
import dev.shardopt.rpc.security.GrpcSecurity;
import dev.shardopt.v1.CoordinatorGrpc;
import dev.shardopt.v1.DeviceStatus;
import dev.shardopt.v1.HeartbeatRequest;
import dev.shardopt.v1.HeartbeatResponse;
import dev.shardopt.v1.RegisterWorkerRequest;
import dev.shardopt.v1.RegisterWorkerResponse;
import dev.shardopt.worker.store.ShardStore;
import dev.shardopt.worker.store.WorkerModel;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import jakarta.inject.Inject;
import jakarta.inject.Named;
import java.io.IOException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A worker process: the Worker service (with health and reflection) on a Netty server, registered
 * with the coordinator and heartbeating to it, with its shards in one device backend.
 */
public final class WorkerServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(WorkerServer.class);

  private final WorkerConfig config;
  private final WorkerService service;
  private final ShardStore store;
  private final DeviceBackend device;
  private final ManagedChannel coordinator;
  private final AtomicReference<String> name;
  private final ExecutorService kernelPool;
  private final ScheduledExecutorService timeouts;
  private final ExecutorService checkpoints;
  private final HealthStatusManager health = new HealthStatusManager();
  private final GrpcSecurity security;
  private ScheduledExecutorService heartbeats;
  private Server server;

  @Inject
  WorkerServer(WorkerConfig config, WorkerService service, ShardStore store, DeviceBackend device,
      @Named("coordinator") ManagedChannel coordinator, @Named("workerName") AtomicReference<String> name,
      @Named("kernels") ExecutorService kernelPool, @Named("timeouts") ScheduledExecutorService timeouts,
      @Named("checkpoints") ExecutorService checkpoints, GrpcSecurity security) {
    this.security = security;
    this.config = config;
    this.service = service;
    this.store = store;
    this.device = device;
    this.coordinator = coordinator;
    this.name = name;
    this.kernelPool = kernelPool;
    this.timeouts = timeouts;
    this.checkpoints = checkpoints;
  }

  /**
   * The worker {@code module} wires, its device open.
   *
   * @throws DeviceUnavailableException with its one line, when the device cannot open here
   * @throws IllegalArgumentException for a device selection that is not valid
   */
  public static WorkerServer create(Module module) {
    try {
      com.google.inject.Injector injector = Guice.createInjector(module);
      injector.getInstance(DeviceBackend.class); // first: a device that cannot open leaves nothing else started
      return injector.getInstance(WorkerServer.class);
    } catch (com.google.inject.ProvisionException | com.google.inject.CreationException e) {
      for (Throwable t = e.getCause(); t != null; t = t.getCause()) {
        if (t instanceof DeviceUnavailableException d) {
          throw d;
        }
        if (t instanceof IllegalArgumentException a) {
          throw a;
        }
      }
      throw e;
    }
  }

  /** Starts serving and registers with the coordinator. */
  public WorkerServer start() throws IOException {
    server = security.start(security.server(config.host(), config.port())
        .addService(service.definition()) // the zero-copy data plane
        .addService(health.getHealthService())
        .addService(ProtoReflectionServiceV1.newInstance())
        .maxInboundMessageSize(TensorBytes.MAX_MESSAGE_BYTES)
        .executor(Executors.newCachedThreadPool(daemon("worker-rpc"))));
    RegisterWorkerResponse r = register();
    health.setStatus("", ServingStatus.SERVING);
    heartbeats = Executors.newSingleThreadScheduledExecutor(daemon("heartbeat"));
    long every = Math.max(50, r.getHeartbeatIntervalMs());
    heartbeats.scheduleAtFixedRate(this::heartbeat, every, every, TimeUnit.MILLISECONDS);
    DeviceInfo d = device.info();
    log.info("shardopt worker {} serving on {} (coordinator {}), shards on {} \"{}\"", r.getName(), address(),
        config.coordinator(), d.kind(), d.name());
    if (config.advertise() != null) {
      log.info("registered as {}: callers reach this worker there", config.advertise());
    }
    log.info("transport security: {}", security.summary());
    return this;
  }

  private void heartbeat() {
    try {
      HeartbeatRequest.Builder beat = HeartbeatRequest.newBuilder()
          .setWorker(name.get()).setBytesIn(store.bytesIn()).setBytesOut(store.bytesOut()).setDevice(deviceStatus());
      for (WorkerModel m : store.models()) {
        beat.addModels(WorkerService.progress(m));
      }
      HeartbeatResponse answer =
          CoordinatorGrpc.newBlockingStub(coordinator).withDeadlineAfter(5, TimeUnit.SECONDS).heartbeat(beat.build());
      fenceOff(answer);
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() == Status.Code.NOT_FOUND) {
        reregister(); // a coordinator restarted without our name: a state dir that knows our address gives it back
      } else {
        if (e.getStatus().getCode() == Status.Code.UNAVAILABLE) {
          // reconnect on the next beat, not after gRPC's growing backoff (seconds): a restarted
          // coordinator that hears nothing for its failure timeout declares this worker dead
          coordinator.resetConnectBackoff();
        }
        log.debug("heartbeat failed: {}", e.toString());
      }
    } catch (RuntimeException e) {
      log.debug("heartbeat failed: {}", e.toString());
    }
  }

  /**
   * The models the coordinator fenced this worker off (declared dead while it was cut off, say) fail
   * here at once: a worker back from a partition serves no pull and takes no step of them under the
   * shard map it knew, rather than until its next step report is refused.
   */
  private void fenceOff(HeartbeatResponse answer) {
    if (answer.getFencedCount() == 0) {
      return;
    }
    java.util.Map<String, String> fenced = new java.util.LinkedHashMap<>();
    answer.getFencedList().forEach(f -> fenced.put(f.getModel(), f.getReason()));
    for (String model : store.fenceOff(fenced)) {
      log.warn("{} stops serving {}: {}", name.get(), model, fenced.get(model));
    }
  }

  private RegisterWorkerResponse register() {
    RegisterWorkerResponse r = CoordinatorGrpc.newBlockingStub(coordinator).withDeadlineAfter(30, TimeUnit.SECONDS)
        .registerWorker(RegisterWorkerRequest.newBuilder().setAddress(advertisedAddress()).setDevice(deviceStatus()).build());
    name.set(r.getName());
    return r;
  }

  private void reregister() {
    String before = name.get();
    try {
      String now = register().getName();
      if (!now.equals(before)) {
        log.warn("the coordinator did not know {} (restarted without its state?): registered again as {}", before, now);
      }
    } catch (RuntimeException e) {
      log.debug("registering again failed: {}", e.toString());
    }
  }

  /** The device and its memory now, as status shows them. */
  DeviceStatus deviceStatus() {
    DeviceInfo d = device.info();
    return DeviceStatus.newBuilder().setKind(d.kind()).setName(d.name()).setTotalBytes(d.totalBytes())
        .setFreeBytes(d.freeBytes()).setUsedByShardsBytes(d.usedByShardsBytes()).build();
  }

  public DeviceBackend device() {
    return device;
  }

  /** Where this worker serves: the bound host and port. */
  public String address() {
    return config.host() + ":" + server.getPort();
  }

  /** Where callers reach this worker, as registered with the coordinator: --advertise, or {@link #address()}. */
  public String advertisedAddress() {
    return config.advertise() != null ? config.advertise() : address();
  }

  public String name() {
    return name.get();
  }

  public int port() {
    return server.getPort();
  }

  public ShardStore store() {
    return store;
  }

  /**
   * The health service of this server, whose status it sets (SERVING once started, NOT_SERVING from
   * {@link #close}): for a plaintext health port ({@code dev.shardopt.rpc.HealthPort}) that answers the same.
   */
  public io.grpc.BindableService healthService() {
    return health.getHealthService();
  }

  public void awaitTermination() throws InterruptedException {
    server.awaitTermination();
  }

  private final java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();

  /** Stops serving (idempotent): running calls get 5 s to finish. */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    if (heartbeats != null) {
      heartbeats.shutdownNow();
    }
    health.enterTerminalState();
    GrpcServers.stop(server, 5);
    store.close();
    device.close();
    coordinator.shutdownNow();
    kernelPool.shutdownNow();
    timeouts.shutdownNow();
    checkpoints.shutdownNow();
  }

  static java.util.concurrent.ThreadFactory daemon(String prefix) {
    return GrpcServers.daemonThreads(prefix);
  }
}
