package dev.shardopt.cli.chaos;

import dev.shardopt.chaos.Fault;
import dev.shardopt.chaos.MethodMatch;
import dev.shardopt.chaos.RandomFaultPlan;
import dev.shardopt.cli.chaos.ChaosCluster.Member;
import dev.shardopt.client.ClientOptions;
import dev.shardopt.client.PulledParameters;
import dev.shardopt.client.RemoteModel;
import dev.shardopt.client.Shardopt;
import dev.shardopt.client.ShardoptCluster;
import dev.shardopt.v1.GetProgressRequest;
import dev.shardopt.v1.Model;
import dev.shardopt.v1.Shard;
import dev.shardopt.v1.ShardMap;
import dev.shardopt.v1.WorkerGrpc;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The chaos scenarios of issue 9 §3, each one run of {@link SyncWorkload} on a {@link ChaosCluster}
 * (R = 2) with faults injected, measured against the in-process fault-free run of the same steps.
 * The caller asserts on the {@link RunResult}s; nothing here decides pass or fail.
 */
final class ChaosScenarios {
  static final String PUSH = "shardopt.v1.Worker/Push";
  static final String PULL = "shardopt.v1.Worker/Pull";
  static final int REPLICAS = 2;
  static final long FAILURE_TIMEOUT_MS = 1000;
  private static final long RUN_TIMEOUT_S = 150;
  private static final Map<Integer, Map<String, float[]>> REFERENCES = new ConcurrentHashMap<>();

  private final ChaosCluster cluster;
  private final int steps;
  private final int replicas;
  private final List<String> notes = new ArrayList<>();

  ChaosScenarios(ChaosCluster cluster, int steps) {
    this(cluster, steps, REPLICAS);
  }

  /** @param replicas the models' R */
  ChaosScenarios(ChaosCluster cluster, int steps, int replicas) {
    this.cluster = cluster;
    this.steps = steps;
    this.replicas = replicas;
  }

  /** Lines about what happened (victims, steps), for failure messages. */
  List<String> notes() {
    return notes;
  }

  static ClientOptions clientOptions() {
    // small chunks: a push or pull of a shard is several messages, so a cut can fall mid-stream
    return ClientOptions.defaults().chunkBytes(4096).pushAttempts(10).retryBackoff(Duration.ofMillis(10))
        .rpcDeadline(Duration.ofSeconds(30)).failoverWait(Duration.ofSeconds(60));
  }

  /** (a) A seeded random plan of message faults on every worker's Push and Pull. */
  RunResult messageFaults(long seed) throws Exception {
    List<Member> members = cluster.live();
    for (int i = 0; i < members.size(); i++) {
      long s = seed * 1000 + i;
      members.get(i).proxy().rules()
          .plan(MethodMatch.exact(PUSH), RandomFaultPlan.seeded(s)
              .with(Fault.duplicate(), 0.06)
              .with(Fault.duplicateConcurrently(), 0.04)
              .with(Fault.reorder(300), 0.05)
              .with(Fault.dropResponse(), 0.06)
              .with(Fault.dropRequest(), 0.03)
              .with(Fault.cutAfterRequests(1), 0.05)
              .with(Fault.delay(30), 0.04)
              .build())
          .plan(MethodMatch.exact(PULL), RandomFaultPlan.seeded(s + 500)
              .with(Fault.dropResponse(), 0.05)
              .with(Fault.cutAfterResponses(1), 0.05)
              .with(Fault.duplicate(), 0.03)
              .with(Fault.dropRequest(), 0.03)
              .with(Fault.delay(30), 0.04)
              .build());
    }
    try {
      return run("message-faults", seed, step -> { }, () -> members.forEach(m -> m.proxy().rules().clear()), 0);
    } finally {
      members.forEach(m -> m.proxy().rules().clear());
    }
  }

  /** (b) kill -9 of one worker (chosen by the seed) before a seeded step; a new worker joins afterwards. */
  RunResult killWorker(long seed) throws Exception {
    Random r = new Random(seed);
    List<Member> members = cluster.live();
    Member victim = members.get(r.nextInt(members.size()));
    long at = 5 + r.nextInt(steps - 10);
    RunResult result = run("kill-9-worker", seed, step -> {
      if (step == at) {
        int exit = cluster.kill9(victim);
        notes.add("seed " + seed + ": kill -9 of the worker at " + victim.address() + " before step " + at
            + " (exit " + exit + ")");
      }
    }, () -> { }, 1);
    cluster.addWorker(); // a new identity: no copies of this model, but the next run's R = 2 on 3 workers
    return result;
  }

  /**
   * (b') {@code kills} times: kill -9 of a worker at a seeded step, and a new worker (a new identity)
   * started at once; trainer 0 then goes on slowly (150 ms a step) until the coordinator has
   * declared the victim dead and re-replicated every range onto the new worker (Model.replication:
   * nothing under-replicated or being copied), and the next kill comes 3 steps later. Each victim is
   * one of the workers this run started with while one is left, so that in the end the copies made
   * by re-replication are all that holds some ranges (with 3 kills, all of them). {@code rejoined}
   * gets the step at which each kill's ranges had R copies again.
   */
  RunResult killAndRejoin(long seed, int kills, List<Long> rejoined, List<String> statusLines) throws Exception {
    Random r = new Random(seed);
    List<Member> originals = new ArrayList<>(cluster.live());
    String id = "kill-rejoin-" + seed;
    long[] nextKillAt = {5 + r.nextInt(5)};
    int[] killed = {0};
    boolean[] waiting = {false};
    try (ShardoptCluster watcher = Shardopt.connect(cluster.coordinator(), clientOptions())) {
      return run("kill-9-rejoin", seed, step -> {
        if (waiting[0]) {
          Model m = watcher.model(id).describe();
          var rep = m.getReplication();
          if (rep.getLostWorkersCount() == killed[0] && rep.getUnderReplicatedShards() == 0
              && rep.getCopyingShards() == 0) {
            waiting[0] = false;
            rejoined.add(step);
            statusLines.add(replicationLine(id));
            notes.add("seed " + seed + ": every range has " + REPLICAS + " copies again before step " + step + " ("
                + rep.getCopiesMade() + " copies made, epoch " + rep.getEpoch() + ")");
            nextKillAt[0] = step + 3;
          } else {
            Thread.sleep(150);
          }
          return;
        }
        if (killed[0] < kills && step >= nextKillAt[0]) {
          List<Member> candidates = originals.stream().filter(x -> x.process().isAlive()).toList();
          if (candidates.isEmpty()) {
            candidates = cluster.live();
          }
          Member victim = candidates.get(r.nextInt(candidates.size()));
          int exit = cluster.kill9(victim);
          Member joined = cluster.addWorker();
          killed[0]++;
          waiting[0] = true;
          notes.add("seed " + seed + ": kill -9 of the worker at " + victim.address() + " before step " + step
              + " (exit " + exit + "); a new worker joined at " + joined.address());
        }
      }, () -> { }, kills, id);
    }
  }

  /** The replication line {@code shardopt status} prints for model {@code id}. */
  private String replicationLine(String id) {
    java.io.StringWriter out = new java.io.StringWriter();
    int exit = dev.shardopt.cli.ShardoptCli.run(new java.io.PrintWriter(out), new java.io.PrintWriter(
        new java.io.StringWriter()), "status", "--coordinator", cluster.coordinator());
    String[] lines = out.toString().split("\\R");
    for (int i = 0; i < lines.length; i++) {
      if (lines[i].startsWith("models/" + id + " ")) {
        for (int j = i + 1; j < lines.length && lines[j].startsWith("  "); j++) {
          if (lines[j].startsWith("  replicas ")) {
            return lines[j];
          }
        }
      }
    }
    return "status exit " + exit + " without a replication line for " + id + ":\n" + out;
  }

  /**
   * (c) SIGSTOP of one worker before a seeded step, SIGCONT {@code pauseMillis} later (past the failure
   * timeout): it is declared dead and fenced, the run completes on the backups. Returns the result
   * and the paused worker's name as the coordinator knew it.
   */
  RunResult pauseWorker(long seed, long pauseMillis, List<String> lostWorkers) throws Exception {
    Random r = new Random(seed);
    List<Member> members = cluster.live();
    Member victim = members.get(r.nextInt(members.size()));
    long at = 5 + r.nextInt(steps - 10);
    Thread[] resumer = new Thread[1];
    RunResult result = run("sigstop-worker", seed, step -> {
      if (step == at) {
        cluster.pause(victim.process());
        notes.add("seed " + seed + ": SIGSTOP of the worker at " + victim.address() + " before step " + at);
        resumer[0] = resumeLater(victim.process(), pauseMillis);
      }
    }, () -> join(resumer[0]), 1, lostWorkers);
    return result;
  }

  /** (d) SIGSTOP of the coordinator before a seeded step, SIGCONT {@code pauseMillis} later. */
  RunResult pauseCoordinator(long seed, long pauseMillis) throws Exception {
    Random r = new Random(seed);
    long at = 5 + r.nextInt(steps - 10);
    Thread[] resumer = new Thread[1];
    return run("sigstop-coordinator", seed, step -> {
      if (step == at) {
        cluster.pause(cluster.coordinatorProcess());
        notes.add("seed " + seed + ": SIGSTOP of the coordinator before step " + at);
        resumer[0] = resumeLater(cluster.coordinatorProcess(), pauseMillis);
      }
    }, () -> join(resumer[0]), 1);
  }

  /** (d) kill -9 of the coordinator before a seeded step, and a new one on the same port and state dir. */
  RunResult restartCoordinator(long seed) throws Exception {
    Random r = new Random(seed);
    long at = 5 + r.nextInt(steps - 10);
    Thread[] restarter = new Thread[1];
    Exception[] failed = new Exception[1];
    return run("kill-9-coordinator", seed, step -> {
      if (step == at) {
        notes.add("seed " + seed + ": kill -9 of the coordinator before step " + at);
        restarter[0] = new Thread(() -> {
          try {
            cluster.restartCoordinator();
          } catch (Exception e) {
            failed[0] = e;
          }
        }, "chaos-coordinator-restart");
        restarter[0].start();
      }
    }, () -> {
      join(restarter[0]);
      if (failed[0] != null) {
        throw new IllegalStateException("restarting the coordinator", failed[0]);
      }
    }, 1);
  }

  private Thread resumeLater(Process p, long millis) {
    Thread t = new Thread(() -> {
      try {
        Thread.sleep(millis);
        cluster.resume(p);
      } catch (Exception e) {
        notes.add("resume failed: " + e);
      }
    }, "chaos-resume");
    t.start();
    return t;
  }

  private static void join(Thread t) {
    if (t == null) {
      return;
    }
    try {
      t.join(TimeUnit.SECONDS.toMillis(30));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
    if (t.isAlive()) {
      throw new IllegalStateException(t.getName() + " still runs after 30 s");
    }
  }

  interface AfterTraining {
    void run() throws Exception;
  }

  private RunResult run(String scenario, long seed, SyncWorkload.StepHook hook, AfterTraining after,
      long processFaults) throws Exception {
    return run(scenario, seed, hook, after, processFaults, new ArrayList<>());
  }

  private RunResult run(String scenario, long seed, SyncWorkload.StepHook hook, AfterTraining after,
      long processFaults, String id) throws Exception {
    return run(scenario, seed, hook, after, processFaults, new ArrayList<>(), id);
  }

  private RunResult run(String scenario, long seed, SyncWorkload.StepHook hook, AfterTraining after,
      long processFaults, List<String> lostWorkers) throws Exception {
    return run(scenario, seed, hook, after, processFaults, lostWorkers, scenario + "-" + seed);
  }

  /**
   * One run of model {@code id}: trains it with {@code hook} before each of trainer 0's pushes, then
   * {@code after} (the model still exists), then measures it against the fault-free run;
   * {@code processFaults} signals sent count as faults, with the proxies' own.
   */
  RunResult run(String scenario, long seed, SyncWorkload.StepHook hook, AfterTraining after,
      long processFaults, List<String> lostWorkers, String id) throws Exception {
    long faultsBefore = cluster.proxyFaults();
    try (ShardoptCluster client = Shardopt.connect(cluster.coordinator(), clientOptions())) {
      RemoteModel model = client.createModel(SyncWorkload.model(id, replicas));
      SyncWorkload.train(model, steps, hook, RUN_TIMEOUT_S);
      after.run();
      long injected = cluster.proxyFaults() - faultsBefore + processFaults;
      PulledParameters pulled = model.pullParameters(steps);
      Model described = model.describe();
      lostWorkers.addAll(described.getReplication().getLostWorkersList());
      List<Long> copies = copyUpdates(client.model(id).shardMap(), model.name());
      model.delete();

      Map<String, float[]> ref = REFERENCES.computeIfAbsent(steps, SyncWorkload::reference);
      ParameterDifference diff = ParameterDifference.between(ref, pulled);
      return new RunResult(scenario, seed, steps, injected, pulled.step(), described.getUpdatesApplied(), copies,
          described.getDuplicates(), diff.differing(), diff.max());
    }
  }

  /** Each copy's own count of updates applied, asked of the worker directly (not through its proxy). */
  private List<Long> copyUpdates(ShardMap map, String model) throws InterruptedException {
    Set<String> addresses = new LinkedHashSet<>();
    for (Shard s : map.getShardsList()) {
      addresses.add(s.getAddress());
    }
    List<Long> out = new ArrayList<>();
    for (String address : addresses) {
      Member m = cluster.member(address);
      ManagedChannel ch = ManagedChannelBuilder.forTarget(m.proxy().target()).usePlaintext().build();
      try {
        out.add(WorkerGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS)
            .getProgress(GetProgressRequest.newBuilder().setModel(model).build()).getUpdatesApplied());
      } finally {
        ch.shutdownNow();
        ch.awaitTermination(5, TimeUnit.SECONDS);
      }
    }
    return out;
  }
}
