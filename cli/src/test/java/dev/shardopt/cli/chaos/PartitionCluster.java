package dev.shardopt.cli.chaos;

import dev.shardopt.chaos.Fault;
import dev.shardopt.chaos.FaultKind;
import dev.shardopt.chaos.GrpcFaultProxy;
import dev.shardopt.chaos.MethodMatch;
import dev.shardopt.chaos.ProcessFaults;
import dev.shardopt.cli.ClusterProcesses;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The processes of a partition scenario: a coordinator and worker processes, each in its own JVM,
 * with two fault proxies per worker, so that a test can cut a worker off in either direction: one
 * in front of the worker, whose address it registers ({@code worker --advertise}), that every
 * trainer's and the coordinator's call to it passes; and one in front of the coordinator that only
 * this worker talks to ({@code worker --coordinator}), that its registration, heartbeats, step
 * reports and schedule reads pass. Unlike {@link ChaosCluster}, whose workers reach the coordinator
 * directly, a worker here can stop hearing and being heard by the coordinator while its trainers
 * still reach it.
 */
final class PartitionCluster implements AutoCloseable {
  /**
   * The coordinator's calls to a worker (GrpcWorkerFleet, the Rereplicator): every Worker method but
   * Push and Pull, which only trainers call (WriteParameters too, for uploads; this suite's tensors
   * are generated, so only a copy's relay sends it).
   */
  static final List<String> COORDINATOR_TO_WORKER = List.of("CreateShards", "DropModel", "GetProgress",
      "SnapshotShards", "HoldPushes", "PersistShards", "WriteParameters", "CopyShards", "CommitCopy").stream()
      .map(m -> "shardopt.v1.Worker/" + m).toList();

  /** A worker process, the proxy in front of it and the proxy it reaches the coordinator through. */
  record Member(Process process, GrpcFaultProxy front, GrpcFaultProxy toCoordinator) {
    /** Where trainers and the coordinator reach it (its front proxy), as registered. */
    String address() {
      return front.address();
    }

    /** Cuts it off from the coordinator both ways; trainers still reach it. */
    void partitionFromCoordinator() {
      toCoordinator.rules().inject(MethodMatch.any(), Fault.blackhole());
      for (String method : COORDINATOR_TO_WORKER) {
        front.rules().inject(MethodMatch.exact(method), Fault.blackhole());
      }
    }

    /** Cuts it off from everyone: every call to it and every call it makes to the coordinator. */
    void partitionFully() {
      toCoordinator.rules().inject(MethodMatch.any(), Fault.blackhole());
      front.rules().inject(MethodMatch.any(), Fault.blackhole());
    }

    /** Ends the partition: the held calls end with UNAVAILABLE (lost in the partition), new ones pass. */
    long heal() {
      return front.releaseBlackholes() + toCoordinator.releaseBlackholes();
    }

    /** Calls blackholed so far, both ways. */
    long blackholed() {
      return front.counters().count(FaultKind.BLACKHOLE) + toCoordinator.counters().count(FaultKind.BLACKHOLE);
    }
  }

  private final ClusterProcesses processes = new ClusterProcesses("192m");
  private final List<String> log = new ArrayList<>();
  private final List<Member> members = new ArrayList<>();
  private final ProcessFaults signals = new ProcessFaults(Duration.ofSeconds(10));
  private final long failureTimeoutMillis;
  private String coordinator;

  /** @param failureTimeoutMillis the coordinator's {@code --failure-timeout-ms} */
  PartitionCluster(long failureTimeoutMillis) {
    this.failureTimeoutMillis = failureTimeoutMillis;
  }

  /** Starts the coordinator (port 0) and {@code workers} workers, each between its two proxies. */
  PartitionCluster start(int workers) throws Exception {
    coordinator = processes.start(log, "coordinator", "--port", "0", "--heartbeat-ms", "100",
        "--failure-timeout-ms", Long.toString(failureTimeoutMillis));
    for (int i = 0; i < workers; i++) {
      addWorker();
    }
    return this;
  }

  /** Starts one more worker between two new proxies (a new identity: the coordinator names it anew). */
  Member addWorker() throws Exception {
    GrpcFaultProxy toCoordinator = GrpcFaultProxy.start(coordinator);
    int frontPort = ClusterProcesses.freePort();
    String bound;
    try {
      bound = processes.start(log, "worker", "--port", "0", "--coordinator", toCoordinator.address(),
          "--threads", "1", "--advertise", "127.0.0.1:" + frontPort);
    } catch (Exception e) {
      toCoordinator.close();
      throw e;
    }
    Member m = new Member(processes.last(), GrpcFaultProxy.start(bound, frontPort), toCoordinator);
    members.add(m);
    return m;
  }

  String coordinator() {
    return coordinator;
  }

  /** Every worker started, the killed ones too. */
  List<Member> members() {
    return List.copyOf(members);
  }

  /** The workers still running, in the order started. */
  List<Member> live() {
    return members.stream().filter(m -> m.process().isAlive()).toList();
  }

  /** kill -9 of the worker; returns its exit value (137). */
  int kill9(Member m) throws Exception {
    return signals.kill9(m.process());
  }

  /** The worker whose front proxy has {@code address}. */
  Member member(String address) {
    return members.stream().filter(m -> m.address().equals(address)).findFirst()
        .orElseThrow(() -> new IllegalArgumentException("no worker at " + address + " in " + members));
  }

  /** Faults every proxy has injected so far (all kinds). */
  long proxyFaults() {
    long n = 0;
    for (Member m : members) {
      for (GrpcFaultProxy p : List.of(m.front(), m.toCoordinator())) {
        n += p.counters().total();
      }
    }
    return n;
  }

  /** Every process's output so far, for failure messages. */
  String log() {
    synchronized (log) {
      return String.join("\n", log);
    }
  }

  @Override
  public void close() throws Exception {
    for (Member m : members) {
      m.heal(); // no call stays held by a proxy while the processes stop
    }
    processes.close();
    for (Member m : members) {
      m.front().close();
      m.toCoordinator().close();
    }
  }
}
