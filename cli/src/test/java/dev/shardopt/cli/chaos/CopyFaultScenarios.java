package dev.shardopt.cli.chaos;

import dev.shardopt.chaos.Fault;
import dev.shardopt.chaos.FaultKind;
import dev.shardopt.chaos.MethodMatch;
import dev.shardopt.cli.chaos.ChaosCluster.Member;
import dev.shardopt.client.ShardoptCluster;
import dev.shardopt.client.Shardopt;
import dev.shardopt.v1.ReplicationStatus;
import dev.shardopt.v1.Shard;
import dev.shardopt.v1.ShardMap;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * Kills during a re-replication copy (issue 9 §2), with real processes: a spare worker joins while
 * every range has its copies (so nothing is copied onto it yet), its proxy is told to hold the next
 * WriteParameters for {@link #STALL_MS}, then a worker is killed at a seeded step. The coordinator
 * plans a copy onto the spare and stalls in it (its sources hold their pushes from the copy's step
 * on); once {@code Model.replication.copying_shards > 0}, the victim is killed: the copy's source,
 * its new worker, or the coordinator (restarted on its state dir). Training goes on to its end
 * (trainer 0 slowed while ranges lack copies, so that re-replication can catch up mid-run); a run
 * that ends before every range has R live copies again waits for that afterwards, bounded.
 */
final class CopyFaultScenarios {
  static final String WRITE = "shardopt.v1.Worker/WriteParameters";
  static final String COMMIT = "shardopt.v1.Worker/CommitCopy";
  /** Longer than the failure timeout, so a dead worker is noticed while the copy is stalled. */
  static final long STALL_MS = 2_000;
  private static final long WAIT_MS = 90_000;

  /** Whom to kill mid-copy. */
  enum Victim {
    /** The worker the copy is read from (the primary of a range being copied). */
    SOURCE,
    /** The worker the copy is written to. */
    TARGET,
    /** The coordinator, restarted on its --state-dir. */
    COORDINATOR,
    /**
     * The coordinator, restarted on its --state-dir, between the copy's steps 3 and 4: the copy is in
     * the shard map, and the sources' proxies hold their CommitCopy instead of the spare's
     * WriteParameters.
     */
    COORDINATOR_AT_COMMIT
  }

  /** What a run saw besides its result: the copy it stalled, whom it killed, the replication at the end. */
  record Seen(RunResult result, String victim, int copyingShards, ReplicationStatus before, ReplicationStatus after,
      List<String> notes) {}

  private final ChaosCluster cluster;
  private final ChaosScenarios scenarios;
  private final int replicas;
  private final int spares;

  /**
   * @param scenarios runs the training and measures it (its replicas must be {@code replicas})
   * @param spares workers to start after the victim is killed, so that every range can get its
   *     copies back (a worker that holds some of a model's shards takes no more)
   */
  CopyFaultScenarios(ChaosCluster cluster, ChaosScenarios scenarios, int replicas, int spares) {
    this.cluster = cluster;
    this.scenarios = scenarios;
    this.replicas = replicas;
    this.spares = spares;
  }

  Seen killDuringCopy(long seed, Victim victim) throws Exception {
    Random r = new Random(seed);
    List<Member> originals = cluster.live();
    Member[] spare = new Member[1];
    Member first = originals.get(r.nextInt(originals.size()));
    long killAt = 3 + r.nextInt(4);
    String id = "copy-kill-" + victim.name().toLowerCase().replace('_', '-') + "-" + seed;
    List<String> notes = new ArrayList<>();
    String[] killed = new String[1];
    int[] copying = new int[1];
    ReplicationStatus[] before = new ReplicationStatus[1];
    ReplicationStatus[] after = new ReplicationStatus[1];
    try (ShardoptCluster watcher = Shardopt.connect(cluster.coordinator(), ChaosScenarios.clientOptions())) {
      RunResult result = scenarios.run("kill-during-copy-" + victim, seed, step -> {
        if (step == 1) {
          // after the model was created (or it would hold shards, and take no copy), before the kill
          // (every range has its copies: nothing is copied onto it yet)
          spare[0] = cluster.addWorker();
          if (victim == Victim.COORDINATOR_AT_COMMIT) {
            // every CommitCopy to a source: step 4 of the copy onto the spare takes 2 s a source
            originals.forEach(m -> m.proxy().rules().inject(MethodMatch.exact(COMMIT), Fault.delay(STALL_MS)));
            notes.add("a spare worker joined at " + spare[0].address() + "; every CommitCopy to the other workers is"
                + " held " + STALL_MS + " ms");
          } else {
            spare[0].proxy().rules().inject(MethodMatch.exact(WRITE), Fault.delay(STALL_MS), 1);
            notes.add("a spare worker joined at " + spare[0].address() + "; its next WriteParameters is held "
                + STALL_MS + " ms");
          }
        } else if (step == killAt) {
          int exit = cluster.kill9(first);
          notes.add("kill -9 of " + first.address() + " before step " + step + " (exit " + exit + ")");
        } else if (step == killAt + 2) {
          // step killAt is decided without the dead worker, and its ranges are being copied onto the
          // spare at step killAt + 2 (the boundary after the first undecided step): the sources have
          // completed it, sent their first chunks, the spare has created the copy's shards, and its
          // proxy holds WriteParameters. Now the victim dies.
          before[0] = awaitReplication(watcher, id, rep -> rep.getCopyingShards() > 0, "a copy in progress");
          if (victim == Victim.COORDINATOR_AT_COMMIT) {
            awaitCommitStalled(watcher, id, spare[0], originals);
          } else {
            awaitStalled(spare[0]);
          }
          before[0] = watcher.model(id).describe().getReplication();
          copying[0] = before[0].getCopyingShards();
          killed[0] = kill(victim, watcher, id, spare[0], notes);
          for (int i = 0; i < spares; i++) {
            notes.add("a spare worker joined at " + cluster.addWorker().address());
          }
        } else if (step > killAt + 2 && after[0] == null) {
          // not waiting here: a copy's step may be one trainer 0 has not pushed yet
          ReplicationStatus rep = watcher.model(id).describe().getReplication();
          if (complete(rep)) {
            after[0] = rep;
            notes.add("every range has " + replicas + " live copies again before step " + step + " ("
                + rep.getCopiesMade() + " shard copies made, epoch " + rep.getEpoch() + ")");
          } else {
            Thread.sleep(100);
          }
        }
      }, () -> {
        if (after[0] == null) { // training is over: a copy at its last step needs no trainer
          after[0] = awaitReplication(watcher, id, this::complete, "every range at " + replicas + " live copies");
          notes.add("every range has " + replicas + " live copies again after the last step ("
              + after[0].getCopiesMade() + " shard copies made, epoch " + after[0].getEpoch() + ")");
        }
      }, 2, new ArrayList<>(), id);
      return new Seen(result, killed[0], copying[0], before[0], after[0], notes);
    } finally {
      if (spare[0] != null) {
        spare[0].proxy().rules().clear();
      }
      originals.forEach(m -> m.proxy().rules().clear());
    }
  }

  private boolean complete(ReplicationStatus rep) {
    return rep.getUnderReplicatedShards() == 0 && rep.getCopyingShards() == 0 && rep.getMinLiveCopies() == replicas;
  }

  /** Waits (at most {@link #WAIT_MS}) until the spare's proxy holds the copy's WriteParameters. */
  private static void awaitStalled(Member spare) throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(WAIT_MS);
    while (spare.proxy().counters().count(FaultKind.DELAY, WRITE) == 0) {
      if (System.nanoTime() > end) {
        throw new IllegalStateException("the copy's WriteParameters never reached the spare's proxy within " + WAIT_MS
            + " ms");
      }
      Thread.sleep(20);
    }
  }

  /**
   * Waits (at most {@link #WAIT_MS}) until the copy onto {@code spare} is in the shard map (step 3)
   * while a source's proxy holds its CommitCopy (step 4).
   */
  private static void awaitCommitStalled(ShardoptCluster watcher, String id, Member spare, List<Member> originals)
      throws Exception {
    long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(WAIT_MS);
    while (true) {
      boolean held = originals.stream().anyMatch(m -> m.proxy().counters().count(FaultKind.DELAY, COMMIT) > 0);
      boolean inMap = watcher.model(id).shardMap().getShardsList().stream()
          .anyMatch(s -> s.getAddress().equals(spare.address()));
      if (held && inMap && watcher.model(id).describe().getReplication().getCopyingShards() > 0) {
        return;
      }
      if (System.nanoTime() > end) {
        throw new IllegalStateException("the copy onto " + spare.address() + " never reached its sources' commits"
            + " within " + WAIT_MS + " ms (held " + held + ", in the map " + inMap + ")");
      }
      Thread.sleep(20);
    }
  }

  /** Kills {@code victim} of the copy in progress; a line saying whom. */
  private String kill(Victim victim, ShardoptCluster watcher, String id, Member target, List<String> notes)
      throws Exception {
    switch (victim) {
      case TARGET -> {
        int exit = cluster.kill9(target);
        notes.add("kill -9 of the copy's new worker " + target.address() + " (exit " + exit + ")");
        return "the new worker " + target.address();
      }
      case SOURCE -> {
        Member source = cluster.member(sourceOf(watcher.model(id).shardMap()));
        int exit = cluster.kill9(source);
        notes.add("kill -9 of the copy's source " + source.address() + " (exit " + exit + ")");
        return "the source " + source.address();
      }
      case COORDINATOR -> {
        cluster.restartCoordinator();
        notes.add("kill -9 of the coordinator, restarted on its state dir");
        return "the coordinator";
      }
      case COORDINATOR_AT_COMMIT -> {
        cluster.restartCoordinator();
        cluster.live().forEach(m -> m.proxy().rules().clear()); // the restarted one's commits pass at once
        notes.add("kill -9 of the coordinator while a source's proxy held its CommitCopy, restarted on its state dir");
        return "the coordinator at the commit";
      }
      default -> throw new IllegalArgumentException("victim " + victim);
    }
  }

  /** The primary of the first range with fewer than R copies in {@code map}: a source of the copy. */
  private String sourceOf(ShardMap map) {
    Map<String, List<Shard>> ranges = new LinkedHashMap<>();
    for (Shard s : map.getShardsList()) {
      ranges.computeIfAbsent(s.getTensorIndex() + "@" + s.getOffset(), k -> new ArrayList<>()).add(s);
    }
    return ranges.values().stream().filter(copies -> copies.size() < replicas).findFirst()
        .map(copies -> copies.get(0).getAddress())
        .orElseThrow(() -> new IllegalStateException("no range has fewer than " + replicas + " copies: " + map));
  }

  /** Polls the model's replication (every 50 ms, at most {@link #WAIT_MS}) until {@code done} holds. */
  private static ReplicationStatus awaitReplication(ShardoptCluster watcher, String id,
      Predicate<ReplicationStatus> done, String what) throws Exception {
    long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(WAIT_MS);
    ReplicationStatus last = null;
    while (System.nanoTime() < end) {
      try {
        last = watcher.model(id).describe().getReplication();
        if (done.test(last)) {
          return last;
        }
      } catch (RuntimeException e) { // the coordinator is restarting
        last = null;
      }
      Thread.sleep(50);
    }
    throw new IllegalStateException("no " + what + " for " + id + " within " + WAIT_MS + " ms; last: " + last);
  }
}
