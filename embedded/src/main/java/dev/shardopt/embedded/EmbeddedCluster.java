package dev.shardopt.embedded;

import com.google.inject.Guice;
import com.google.inject.Module;
import com.google.inject.util.Modules;
import dev.shardopt.coordinator.CoordinatorConfig;
import dev.shardopt.coordinator.CoordinatorMetrics;
import dev.shardopt.coordinator.CoordinatorObserver;
import dev.shardopt.coordinator.CoordinatorModule;
import dev.shardopt.coordinator.CoordinatorServer;
import dev.shardopt.engine.device.DeviceSelection;
import dev.shardopt.rpc.local.InProcessEndpoints;
import dev.shardopt.worker.server.WorkerConfig;
import dev.shardopt.worker.server.WorkerMetrics;
import dev.shardopt.worker.server.WorkerObserver;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import dev.shardopt.worker.server.WorkerModule;
import dev.shardopt.worker.server.WorkerServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntFunction;

/**
 * A coordinator and n workers in this process, each a real gRPC server on a loopback port, each
 * wired by its own Guice injector exactly as its standalone process is. Tests pass override
 * modules to inject faults into one worker or the coordinator.
 *
 * <p>By default the cluster's own calls (coordinator to workers, workers to coordinator, and the
 * client of {@link ShardoptLocal}) go through gRPC's in-process transport, with the same services,
 * token checks and wire bytes; the loopback ports stay open for other processes and languages.
 * {@link Builder#loopbackOnly} keeps every call on the sockets.
 */
public final class EmbeddedCluster implements AutoCloseable {
  private final CoordinatorServer coordinator;
  private final List<WorkerServer> workers;
  private final InProcessEndpoints inProcess;
  private final AutoCloseable ownSecurity;

  private EmbeddedCluster(CoordinatorServer coordinator, List<WorkerServer> workers, InProcessEndpoints inProcess,
      AutoCloseable ownSecurity) {
    this.coordinator = coordinator;
    this.workers = workers;
    this.inProcess = inProcess;
    this.ownSecurity = ownSecurity;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** A coordinator and {@code n} workers with default settings, sharing the cores. */
  public static EmbeddedCluster start(int n) {
    return builder().workers(n).start();
  }

  public String coordinatorAddress() {
    return coordinator.address();
  }

  public CoordinatorServer coordinator() {
    return coordinator;
  }

  public List<WorkerServer> workers() {
    return workers;
  }

  /** The servers that this process's own channels reach in-process; empty when every call uses the sockets. */
  public java.util.Optional<InProcessEndpoints> inProcessEndpoints() {
    return java.util.Optional.ofNullable(inProcess);
  }

  /** Stops one worker abruptly (for fault tests). */
  public void stopWorker(int i) {
    workers.get(i).close();
  }

  @Override
  public void close() {
    for (WorkerServer w : workers) {
      w.close();
    }
    coordinator.close();
    closeQuietly(ownSecurity);
  }

  private static void closeQuietly(AutoCloseable c) {
    if (c == null) {
      return;
    }
    try {
      c.close();
    } catch (Exception e) {
      // nothing to release that outlives the process
    }
  }

  /** Settings of an embedded cluster. Each call returns this builder. */
  public static final class Builder {
    private int workers = 1;
    private CoordinatorConfig coordinatorConfig = CoordinatorConfig.defaults();
    private java.util.function.BiFunction<Integer, WorkerConfig, WorkerConfig> workerConfig = (i, c) -> c;
    private DeviceSelection device = DeviceSelection.cpu();
    private Module coordinatorOverride;
    private IntFunction<Module> workerOverride = i -> null;
    private PrometheusRegistry metrics;

    public Builder workers(int n) {
      if (n < 1) {
        throw new IllegalArgumentException("an embedded cluster needs at least 1 worker, got " + n);
      }
      this.workers = n;
      return this;
    }

    public Builder coordinator(CoordinatorConfig config) {
      this.coordinatorConfig = config;
      return this;
    }

    /**
     * Where every worker keeps its shards (cpu by default); {@link #worker} may still give one
     * worker another. A device that cannot open fails {@link #start} with its one line.
     */
    public Builder device(DeviceSelection selection) {
      this.device = java.util.Objects.requireNonNull(selection, "selection");
      return this;
    }

    /**
     * Device 0 of {@code kind} for every worker: {@code cpu}, {@code opencl}, {@code cuda} or
     * {@code auto}.
     *
     * @throws IllegalArgumentException for another kind, naming the allowed ones
     */
    public Builder device(String kind) {
      return device(DeviceSelection.of(kind));
    }

    /** Adjusts worker i's settings, given defaults that already name the coordinator and the device. */
    public Builder worker(java.util.function.BiFunction<Integer, WorkerConfig, WorkerConfig> config) {
      this.workerConfig = config;
      return this;
    }

    public Builder overrideCoordinator(Module override) {
      this.coordinatorOverride = override;
      return this;
    }

    /** A module that overrides worker i's bindings, or null for none. */
    public Builder overrideWorker(IntFunction<Module> override) {
      this.workerOverride = override;
      return this;
    }

    private dev.shardopt.rpc.security.GrpcSecurity security; // null: plaintext, made by start()
    private boolean loopbackOnly;

    /**
     * Puts the coordinator's and the workers' metrics on {@code registry}, the process's (one per
     * process: the workers share one set of metrics, labelled by worker). Off by default.
     */
    public Builder metrics(PrometheusRegistry registry) {
      this.metrics = java.util.Objects.requireNonNull(registry, "registry");
      return this;
    }

    /**
     * The coordinator's and the workers' TLS and tokens (default: plaintext on loopback, no tokens).
     * Its token is the one they send each other (role worker); the caller closes it after the cluster.
     */
    public Builder security(dev.shardopt.rpc.security.GrpcSecurity s) {
      this.security = java.util.Objects.requireNonNull(s, "security");
      return this;
    }

    /**
     * Every call between the cluster's servers and its client over the loopback sockets, as between
     * processes (benchmarks of the socket path). The default, without a {@link #security} of the
     * caller's, is the in-process transport for them.
     */
    public Builder loopbackOnly() {
      this.loopbackOnly = true;
      return this;
    }

    public EmbeddedCluster start() {
      InProcessEndpoints inProcess = null;
      dev.shardopt.rpc.security.GrpcSecurity security = this.security;
      dev.shardopt.rpc.security.GrpcSecurity ownSecurity = null;
      if (security == null) {
        var plaintext = dev.shardopt.rpc.security.GrpcSecurity.builder();
        if (!loopbackOnly) {
          inProcess = new InProcessEndpoints();
          plaintext.inProcess(inProcess);
        }
        security = plaintext.build();
        ownSecurity = security;
      }
      CoordinatorObserver coordinatorMetrics = metrics == null ? CoordinatorObserver.NONE : new CoordinatorMetrics(metrics);
      WorkerObserver workerMetrics = metrics == null ? WorkerObserver.NONE : new WorkerMetrics(metrics);
      Module cm = new CoordinatorModule(coordinatorConfig, coordinatorMetrics, security);
      if (coordinatorOverride != null) {
        cm = Modules.override(cm).with(coordinatorOverride);
      }
      CoordinatorServer coordinator = Guice.createInjector(cm).getInstance(CoordinatorServer.class);
      List<WorkerServer> started = new ArrayList<>();
      try {
        coordinator.start();
        int threads = Math.max(1, Runtime.getRuntime().availableProcessors() / workers);
        for (int i = 0; i < workers; i++) {
          WorkerConfig base = WorkerConfig.defaults(coordinator.address()).withThreads(threads).withDevice(device);
          WorkerConfig wc = workerConfig.apply(i, base);
          Module wm = new WorkerModule(wc, workerMetrics, security);
          Module override = workerOverride.apply(i);
          if (override != null) {
            wm = Modules.override(wm).with(override);
          }
          WorkerServer w = WorkerServer.create(wm);
          started.add(w);
          w.start();
        }
      } catch (IOException | RuntimeException e) {
        started.forEach(WorkerServer::close);
        coordinator.close();
        closeQuietly(ownSecurity);
        throw e instanceof IOException io ? new UncheckedIOException("could not start the embedded cluster", io)
            : (RuntimeException) e;
      }
      return new EmbeddedCluster(coordinator, List.copyOf(started), inProcess, ownSecurity);
    }
  }
}
