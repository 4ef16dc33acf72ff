package dev.shardopt.cli.chaos;

import dev.shardopt.chaos.GrpcFaultProxy;
import dev.shardopt.chaos.ProcessFaults;
import dev.shardopt.cli.ClusterProcesses;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The processes of a chaos scenario: a coordinator and worker processes, each in its own JVM, every
 * worker behind a {@link GrpcFaultProxy} whose address it registers ({@code worker --advertise}), so
 * that every trainer's and the coordinator's call to it passes the proxy. Process faults (pause,
 * resume, kill -9) by signal; every wait bounded.
 */
final class ChaosCluster implements AutoCloseable {
  /** One worker process and the proxy in front of it; {@code address} is what the coordinator knows. */
  record Member(Process process, GrpcFaultProxy proxy) {
    String address() {
      return proxy.address();
    }
  }

  private final ClusterProcesses processes = new ClusterProcesses("192m");
  private final List<String> log = new ArrayList<>();
  private final List<Member> members = new ArrayList<>();
  private final ProcessFaults signals = new ProcessFaults(Duration.ofSeconds(10));
  private final long failureTimeoutMillis;
  private final Path stateDir;
  private Process coordinatorProcess;
  private String coordinator;

  /**
   * @param failureTimeoutMillis the coordinator's {@code --failure-timeout-ms}
   * @param stateDir the coordinator's {@code --state-dir}, or null for none
   */
  ChaosCluster(long failureTimeoutMillis, Path stateDir) {
    this.failureTimeoutMillis = failureTimeoutMillis;
    this.stateDir = stateDir;
  }

  /** Starts the coordinator (port 0) and {@code workers} workers, each behind its proxy. */
  ChaosCluster start(int workers) throws Exception {
    startCoordinator("0");
    for (int i = 0; i < workers; i++) {
      addWorker();
    }
    return this;
  }

  private void startCoordinator(String port) throws Exception {
    List<String> args = new ArrayList<>(List.of("coordinator", "--port", port, "--heartbeat-ms", "100",
        "--failure-timeout-ms", Long.toString(failureTimeoutMillis)));
    if (stateDir != null) {
      args.addAll(List.of("--state-dir", stateDir.toString()));
    }
    coordinator = processes.start(log, args.toArray(String[]::new));
    coordinatorProcess = processes.last();
  }

  /** Starts one more worker behind a new proxy (a new identity: the coordinator gives it a new name). */
  Member addWorker() throws Exception {
    int proxyPort = ClusterProcesses.freePort();
    String bound = processes.start(log, "worker", "--port", "0", "--coordinator", coordinator, "--threads", "1",
        "--advertise", "127.0.0.1:" + proxyPort);
    Member m = new Member(processes.last(), GrpcFaultProxy.start(bound, proxyPort));
    members.add(m);
    return m;
  }

  String coordinator() {
    return coordinator;
  }

  Process coordinatorProcess() {
    return coordinatorProcess;
  }

  /** The workers still running, in the order started. */
  List<Member> live() {
    return members.stream().filter(m -> m.process().isAlive()).toList();
  }

  /** kill -9 of the worker; returns its exit value (137). */
  int kill9(Member m) throws Exception {
    return signals.kill9(m.process());
  }

  void pause(Process p) throws Exception {
    signals.pause(p);
  }

  void resume(Process p) throws Exception {
    signals.resume(p);
  }

  /** kill -9 of the coordinator, then a new one on the same port (and state dir). */
  void restartCoordinator() throws Exception {
    signals.kill9(coordinatorProcess);
    String port = coordinator.substring(coordinator.lastIndexOf(':') + 1);
    String before = coordinator;
    startCoordinator(port);
    if (!coordinator.equals(before)) {
      throw new IllegalStateException("the coordinator came back on " + coordinator + ", not " + before);
    }
  }

  /** The worker whose proxy has {@code address}. */
  Member member(String address) {
    return members.stream().filter(m -> m.address().equals(address)).findFirst()
        .orElseThrow(() -> new IllegalArgumentException("no worker at " + address + " in " + members));
  }

  /** Faults of every kind that every proxy (of live and killed workers) has injected so far. */
  long proxyFaults() {
    long n = 0;
    for (Member m : members) {
      n += m.proxy().counters().total();
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
      if (m.process().isAlive()) {
        try {
          signals.resume(m.process()); // a stopped process cannot die until continued
        } catch (Exception e) {
          // already gone
        }
      }
    }
    if (coordinatorProcess != null && coordinatorProcess.isAlive()) {
      try {
        signals.resume(coordinatorProcess);
      } catch (Exception e) {
        // already gone
      }
    }
    processes.close();
    for (Member m : members) {
      m.proxy().close();
    }
  }
}
