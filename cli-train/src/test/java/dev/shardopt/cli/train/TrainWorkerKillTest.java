package dev.shardopt.cli.train;

import static dev.shardopt.cli.train.TrainCheckpointTest.assertSameCheckpoint;
import static dev.shardopt.cli.train.TrainCommandTest.run;
import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.cli.train.TrainCommandTest.Result;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 9's user view: {@code shardopt train --replicas 2} against a coordinator and 3 worker processes,
 * each in its own JVM; one worker is killed (SIGKILL) once train has written its checkpoint of step 20.
 * The coordinator declares it dead after the failure timeout, its shards' backups take over, and train
 * finishes by itself (meanwhile {@code status} shows the model with one copy lost): its final
 * checkpoint is byte for byte that of an undisturbed run, with the same accuracy.
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class TrainWorkerKillTest {
  private static final int STEPS = 100;
  private static final List<String> RUN = TrainAgainstProcesses.smallRun(STEPS);
  private static final String KILL_AFTER = "checkpoint step-0000000020: ";

  private final TrainAgainstProcesses p = new TrainAgainstProcesses();

  @TempDir Path dir;

  @AfterEach
  void killAll() throws InterruptedException {
    p.close();
  }

  @Test
  void trainWithTwoReplicasEndsWithTheUndisturbedRunsFinalCheckpointAfterAWorkerIsKilled() throws Exception {
    Path killed = dir.resolve("killed");
    String address = p.servers.start(p.serverLog, "coordinator", "--port", "0", "--heartbeat-ms", "100",
        "--failure-timeout-ms", "1000");
    List<Process> workers = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      p.servers.start(p.serverLog, "worker", "--port", "0", "--coordinator", address, "--threads", "1");
      workers.add(p.servers.last());
    }

    CountDownLatch pastStep20 = new CountDownLatch(1);
    List<String> args = new ArrayList<>(RUN);
    args.addAll(List.of("--coordinator", address, "--replicas", "2", "--checkpoint-dir", killed.toString(),
        "--plot", dir.resolve("killed.png").toString()));
    Process train = p.train(args, KILL_AFTER, pastStep20);

    assertThat(pastStep20.await(120, TimeUnit.SECONDS)).as("train wrote step 20's checkpoint: %s", p.trainOutput()).isTrue();
    Process victim = workers.get(1);
    victim.destroyForcibly(); // SIGKILL
    assertThat(victim.waitFor(10, TimeUnit.SECONDS)).isTrue();
    assertThat(victim.exitValue()).isEqualTo(137);

    // once the coordinator has failed over, and while train goes on, status shows the model's copies
    long failedOver = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (System.nanoTime() < failedOver && !p.serverOutput().contains("failover: models/")) {
      Thread.sleep(50);
    }
    List<String> status = new ArrayList<>();
    Process st = p.servers.launch(status, line -> { }, "status", "--coordinator", address);
    assertThat(st.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(st.exitValue()).isZero();
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10); // the reader thread may lag the exit
    while (System.nanoTime() < end && !TrainAgainstProcesses.printed(status, "  replicas ")) {
      Thread.sleep(50);
    }
    synchronized (status) {
      assertThat(String.join("\n", status)).containsPattern(
          "(?m)^  replicas 2: epoch 1, fewest live copies 1, \\d+ shards under-replicated, lost workers/w2$");
    }

    assertThat(train.waitFor(150, TimeUnit.SECONDS)).as("train ends: %s", p.trainOutput()).isTrue();
    assertThat(train.exitValue()).as(p.trainOutput()).isZero();
    assertThat(p.serverOutput()).containsPattern("failover: models/\\S+: workers/w2 declared dead; its"
        + " shards' backups took over \\(epoch 1\\)");
    Path undisturbed = dir.resolve("undisturbed");
    List<String> same = new ArrayList<>(RUN);
    same.addAll(List.of("--workers", "2", "--checkpoint-dir", undisturbed.toString(),
        "--plot", dir.resolve("undisturbed.png").toString()));
    Result whole = run(same.toArray(String[]::new));
    assertThat(whole.status()).as(whole.err()).isZero();
    assertSameCheckpoint(undisturbed, killed, STEPS); // every .npy, the manifest and the trainer state
    assertThat(TrainAgainstProcesses.accuracy(p.trainOutput())).isEqualTo(TrainAgainstProcesses.accuracy(whole.out()));
  }
}
