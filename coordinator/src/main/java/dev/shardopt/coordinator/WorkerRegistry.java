package dev.shardopt.coordinator;

import dev.shardopt.rpc.ApiException;
import dev.shardopt.v1.DeviceStatus;
import dev.shardopt.v1.HeartbeatRequest;
import dev.shardopt.v1.ModelProgress;
import dev.shardopt.v1.WorkerIdentity;
import dev.shardopt.v1.WorkerRegistryState;
import dev.shardopt.v1.WorkerStatus;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.LongSupplier;

/**
 * The cluster's workers: registration, heartbeats and health. A worker is unhealthy once it has
 * missed {@code missedBeats} heartbeat intervals, or when a step found it unresponsive.
 */
public final class WorkerRegistry {
  private static final class Entry {
    final String name;
    final String address;
    long lastBeat;
    /** Known from the state dir and not heard from by this coordinator process yet. */
    boolean restored;
    boolean failedStep;
    long bytesIn;
    long bytesOut;
    DeviceStatus device; // null until the worker reports it
    Map<String, ModelProgress> progress = Map.of();

    Entry(String name, String address, long now) {
      this.name = name;
      this.address = address;
      this.lastBeat = now;
    }
  }

  private final Map<String, Entry> byName = new LinkedHashMap<>();
  private final long heartbeatMillis;
  private final int missedBeats;
  private final LongSupplier clock;
  private final CoordinatorStateStore store;
  private long next = 1;

  public WorkerRegistry(long heartbeatMillis, int missedBeats, LongSupplier clockMillis) {
    this(heartbeatMillis, missedBeats, clockMillis, CoordinatorStateStore.none());
  }

  /**
   * A registry that keeps its workers' names in {@code store} and starts with those it holds, each
   * as if it had just beaten: a restarted coordinator gives its workers their heartbeat interval to
   * show up again before it counts them unhealthy.
   */
  public WorkerRegistry(long heartbeatMillis, int missedBeats, LongSupplier clockMillis, CoordinatorStateStore store) {
    this.heartbeatMillis = heartbeatMillis;
    this.missedBeats = missedBeats;
    this.clock = clockMillis;
    this.store = store;
    WorkerRegistryState saved = store.workers();
    for (WorkerIdentity w : saved.getWorkersList()) {
      Entry e = new Entry(w.getName(), w.getAddress(), clockMillis.getAsLong());
      e.restored = true;
      byName.put(w.getName(), e);
    }
    next = Math.max(next, saved.getNextNumber());
  }

  public long heartbeatMillis() {
    return heartbeatMillis;
  }

  /** How long a worker may miss its heartbeats before it is no longer {@link #beating}. */
  public long failureTimeoutMillis() {
    return heartbeatMillis * missedBeats;
  }

  /**
   * Whether {@code name} is known from the state dir and has not yet beaten or registered with this
   * coordinator process: after a restart its channel has to find the coordinator again.
   */
  public synchronized boolean awaitingFirstBeat(String name) {
    Entry e = byName.get(name);
    return e != null && e.restored;
  }

  /** This registry's clock, in milliseconds. */
  public long nowMillis() {
    return clock.getAsLong();
  }

  /**
   * Every worker's silence counted from now, as if each had just beaten: for when the coordinator
   * itself was not running (paused), so that it did not hear heartbeats that were sent.
   */
  public synchronized void restartSilence() {
    long now = clock.getAsLong();
    for (Entry e : byName.values()) {
      e.lastBeat = Math.max(e.lastBeat, now);
    }
  }

  /**
   * Registers a worker; the same address registering again keeps its name (a restart of the worker,
   * or of the coordinator when the state dir knows the address). Durable before it returns.
   */
  public String register(String address) {
    return register(address, DeviceStatus.getDefaultInstance());
  }

  /** {@link #register(String)}, keeping the worker's device as it reports it (an empty one is none). */
  public synchronized String register(String address, DeviceStatus device) {
    if (address == null || !address.matches("(\\[[0-9A-Fa-f:.]+\\]|[^:\\s\\[\\]]+):\\d{1,5}")
        || Integer.parseInt(address.substring(address.lastIndexOf(':') + 1)) > 65535) {
      throw ApiException.invalidArgument(
          "worker address must be host:port (or [ipv6]:port) with a port up to 65535, got '" + address + "'");
    }
    for (Entry e : byName.values()) {
      if (e.address.equals(address)) {
        e.lastBeat = clock.getAsLong();
        e.restored = false;
        e.failedStep = false;
        e.device = reported(device);
        return e.name;
      }
    }
    String name = "workers/w" + next;
    Entry added = new Entry(name, address, clock.getAsLong());
    added.device = reported(device);
    byName.put(name, added);
    try {
      store.saveWorkers(state(next + 1));
    } catch (RuntimeException e) {
      byName.remove(name);
      throw e;
    }
    next++;
    return name;
  }

  private static DeviceStatus reported(DeviceStatus d) {
    return d == null || d.equals(DeviceStatus.getDefaultInstance()) ? null : d;
  }

  private WorkerRegistryState state(long nextNumber) {
    WorkerRegistryState.Builder b = WorkerRegistryState.newBuilder().setNextNumber(nextNumber);
    byName.values().forEach(e -> b.addWorkers(WorkerIdentity.newBuilder().setName(e.name).setAddress(e.address)));
    return b.build();
  }

  public synchronized void heartbeat(HeartbeatRequest beat) {
    Entry e = byName.get(beat.getWorker());
    if (e == null) {
      throw ApiException.notFound(beat.getWorker() + " is not registered; call RegisterWorker first");
    }
    e.lastBeat = clock.getAsLong();
    e.restored = false;
    e.failedStep = false;
    e.bytesIn = beat.getBytesIn();
    e.bytesOut = beat.getBytesOut();
    if (beat.hasDevice()) {
      e.device = reported(beat.getDevice());
    }
    Map<String, ModelProgress> p = new LinkedHashMap<>();
    beat.getModelsList().forEach(m -> p.put(m.getModel(), m));
    e.progress = p;
  }

  public synchronized boolean healthy(String name) {
    Entry e = byName.get(name);
    return e != null && isHealthy(e);
  }

  private boolean isHealthy(Entry e) {
    return !e.failedStep && clock.getAsLong() - e.lastBeat <= heartbeatMillis * missedBeats;
  }

  /** Whether the worker's heartbeats are current (it is alive, whatever a step said). */
  public synchronized boolean beating(String name) {
    return beatingAt(name, clock.getAsLong());
  }

  /**
   * {@link #beating} as of {@code now}, a reading of {@link #nowMillis}: the failure detector judges
   * every worker by the time its check began, so that a pause of the coordinator in the middle of a
   * check (SIGSTOP, a GC) is not counted as the workers' silence.
   */
  public synchronized boolean beatingAt(String name, long now) {
    Entry e = byName.get(name);
    return e != null && now - e.lastBeat <= heartbeatMillis * missedBeats;
  }

  /**
   * Whether the worker at {@code address} has gone silent: no heartbeat for longer than the failure
   * timeout, though it has beaten this coordinator process (one known from the state dir that has not
   * found a restarted coordinator yet is not counted: the failure detector gives it a grace).
   */
  public synchronized boolean silentAt(String address) {
    long now = clock.getAsLong();
    for (Entry e : byName.values()) {
      if (e.address.equals(address) && !e.restored && now - e.lastBeat > heartbeatMillis * missedBeats) {
        return true;
      }
    }
    return false;
  }

  /** A step found this worker unresponsive: unhealthy until its next heartbeat. */
  public synchronized void markUnhealthy(String name) {
    Entry e = byName.get(name);
    if (e != null) {
      e.failedStep = true;
    }
  }

  /** Healthy workers, by registration order. */
  public synchronized List<ShardPlanner.WorkerSlot> healthyWorkers() {
    List<ShardPlanner.WorkerSlot> out = new ArrayList<>();
    for (Entry e : byName.values()) {
      if (isHealthy(e)) {
        out.add(new ShardPlanner.WorkerSlot(e.name, e.address));
      }
    }
    return out;
  }

  /** The worker's progress on {@code model} as of its last heartbeat; empty when it reported none. */
  public synchronized Optional<ModelProgress> lastProgress(String worker, String model) {
    Entry e = byName.get(worker);
    return e == null ? Optional.empty() : Optional.ofNullable(e.progress.get(model));
  }

  public synchronized List<WorkerStatus> statuses(Map<String, Integer> shardsByWorker) {
    long now = clock.getAsLong();
    return byName.values().stream()
        .sorted(Comparator.comparingInt(e -> Integer.parseInt(e.name.substring("workers/w".length()))))
        .map(e -> {
          WorkerStatus.Builder w = WorkerStatus.newBuilder().setName(e.name).setAddress(e.address).setHealthy(isHealthy(e))
              .setMillisSinceHeartbeat(Math.max(0, now - e.lastBeat)).setBytesIn(e.bytesIn).setBytesOut(e.bytesOut)
              .setShards(shardsByWorker.getOrDefault(e.name, 0));
          if (e.device != null) {
            w.setDevice(e.device);
          }
          return w.build();
        })
        .toList();
  }
}
