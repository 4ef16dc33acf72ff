package dev.shardopt.cli.chaos;

import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.cli.chaos.CopyFaultScenarios.Seen;
import dev.shardopt.cli.chaos.CopyFaultScenarios.Victim;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * kill -9 during a re-replication copy, with real processes (issue 9 §2 and §3): sync Adam with
 * clipNorm, K = 2 trainers, a coordinator and worker processes each behind a fault proxy
 * ({@link ChaosCluster}). A worker is killed, a spare that joined before receives the copy of its
 * ranges, stalled by its proxy, and mid-copy the copy's source, its new worker or the coordinator is
 * killed (see {@link CopyFaultScenarios}). Every run must finish bitwise equal to the fault-free
 * in-process run, with every step applied exactly once (the coordinator's count and every live
 * copy's own), and every range must have R live copies again before the run ends. One table row per
 * scenario goes to target/chaos-table.md.
 */
@Timeout(value = 20, unit = TimeUnit.MINUTES) // each run is bounded on its own; this bounds a soak
class KillDuringCopyTest {
  private static final int STEPS = Integer.getInteger("shardopt.chaos.steps", 40);
  private static final int RUNS = Integer.getInteger("shardopt.chaos.runs", 0); // 0: once each
  private static final long SEED = Long.getLong("shardopt.chaos.seed", 1);
  private static final Path TABLE = Path.of(System.getProperty("shardopt.chaos.table", "target/chaos-table.md"));

  @TempDir Path dir;
  private ChaosCluster cluster;

  @AfterEach
  void stop() throws Exception {
    if (cluster != null) {
      cluster.close();
    }
  }

  private List<Seen> runs(Victim victim, int workers, int replicas, int spares, Path stateDir) throws Exception {
    cluster = new ChaosCluster(ChaosScenarios.FAILURE_TIMEOUT_MS, stateDir).start(workers);
    ChaosScenarios s = new ChaosScenarios(cluster, STEPS, replicas);
    CopyFaultScenarios copies = new CopyFaultScenarios(cluster, s, replicas, spares);
    List<Seen> seen = new ArrayList<>();
    for (int i = 0; i < Math.max(1, RUNS); i++) {
      Seen run = copies.killDuringCopy(SEED + i, victim);
      assertExactlyOnceAndReplicated(run, replicas, s);
      System.out.println("kill during copy, seed " + (SEED + i) + ", " + victim + ": " + run.notes() + "; replication "
          + "when killed: " + run.before().toString().replace('\n', ' '));
      cluster.log().lines().filter(l -> l.contains("re-replication") || l.contains("failover"))
          .forEach(l -> System.out.println("  " + l));
      seen.add(run);
    }
    return seen;
  }

  private void assertExactlyOnceAndReplicated(Seen seen, int replicas, ChaosScenarios s) {
    RunResult r = seen.result();
    String why = r + "\n" + seen.notes() + "\n" + s.notes() + "\n" + cluster.log();
    assertThat(seen.copyingShards()).as("a copy was in progress when %s was killed: %s", seen.victim(), why)
        .isPositive();
    assertThat(r.pulledStep()).as(why).isEqualTo(STEPS);
    assertThat(r.differingElements()).as("parameters whose bits differ from the fault-free run: %s", why).isZero();
    assertThat(r.updatesApplied()).as(why).isEqualTo(STEPS);
    assertThat(r.copyUpdates()).as("each live copy's updates applied: %s", why).isNotEmpty()
        .allMatch(n -> n == STEPS);
    assertThat(r.appliedTwice()).isZero();
    assertThat(r.acknowledgedLost()).isZero();
    assertThat(seen.after().getMinLiveCopies()).as("every range has R live copies again: %s", why)
        .isEqualTo(replicas);
    assertThat(seen.after().getUnderReplicatedShards()).as(why).isZero();
    assertThat(seen.after().getCopiesMade()).as("copies made by re-replication: %s", why).isPositive();
  }

  /**
   * The copy's source dies mid-copy. With R = 2 the source of a copy holds the last live copy of the
   * range being copied, so its death loses the range whatever the copy does (the model fails,
   * naming the range and its latest checkpoint); R = 3 on 4 workers leaves one copy of every range
   * after two deaths, and that is what must be copied back, twice (two spares join).
   */
  @Test
  void theCopysSourceKilledMidCopyAbortsItAndTheRangesAreCopiedFromTheCopiesLeft() throws Exception {
    List<Seen> seen = runs(Victim.SOURCE, 4, 3, 2, null);
    assertThat(cluster.log()).containsPattern("re-replication of models/copy-kill-source-\\d+: .* abandoned");
    ChaosTable.record(TABLE, "R = 3, 4 worker processes: kill -9 of a worker, then of the copy's source while its"
        + " ranges are copied onto a spare (the copy stalled 2 s by the spare's proxy); two spares join",
        seen.stream().map(Seen::result).toList());
  }

  @Test
  void theCopysNewWorkerKilledMidCopyAbortsItAndAnotherWorkerGetsTheCopy() throws Exception {
    List<Seen> seen = runs(Victim.TARGET, 3, 2, 1, null);
    assertThat(cluster.log()).containsPattern("re-replication of models/copy-kill-target-\\d+: .* abandoned");
    ChaosTable.record(TABLE, "R = 2, 3 worker processes: kill -9 of a worker, then of the spare its ranges are being"
        + " copied onto (stalled 2 s by its proxy); another spare joins", seen.stream().map(Seen::result).toList());
  }

  @Test
  void theCoordinatorKilledMidCopyAndRestartedOnItsStateDirCopiesAgain() throws Exception {
    List<Seen> seen = runs(Victim.COORDINATOR, 3, 2, 0, dir.resolve("state"));
    // the sources' holds the killed coordinator left are taken over by the new one's copy, not
    // refused ("being copied already") until they expire after --wait-ms
    assertThat(cluster.log()).doesNotContain("is being copied already")
        .containsPattern("re-replication: models/copy-kill-coordinator-\\d+: .* done");
    ChaosTable.record(TABLE, "R = 2, 3 worker processes: kill -9 of a worker, then of the coordinator while the"
        + " worker's ranges are copied onto a spare (stalled 2 s by its proxy); restarted on its --state-dir",
        seen.stream().map(Seen::result).toList());
  }

  /**
   * The coordinator killed between the copy's steps 3 (the copy joined the shard map, persisted)
   * and 4 (the sources' CommitCopy, held by their proxies): the restarted one finds the copy pending
   * in its state dir and commits it on the sources, whose holds are still in force, in its first
   * round; had it not, the sources would admit their held pushes by the old map once their hold
   * expired, and the copy would miss them.
   */
  @Test
  void theCoordinatorKilledBeforeTheSourcesCommittedTheCopyFinishesItAfterItsRestart() throws Exception {
    List<Seen> seen = runs(Victim.COORDINATOR_AT_COMMIT, 3, 2, 0, dir.resolve("state"));
    for (int i = 0; i < seen.size(); i++) { // every run's copy was finished by the restarted coordinator
      assertThat(cluster.log()).containsPattern("re-replication: models/copy-kill-coordinator-at-commit-" + (SEED + i)
          + ": .* done by a later round");
    }
    assertThat(cluster.log()).doesNotContain("withdrawn");
    ChaosTable.record(TABLE, "R = 2, 3 worker processes, `--state-dir`: kill -9 of a worker, then of the coordinator"
        + " after the copy of its ranges onto a spare joined the shard map, before the sources committed it (their"
        + " proxies held CommitCopy 2 s); restarted on its state dir", seen.stream().map(Seen::result).toList());
  }
}
