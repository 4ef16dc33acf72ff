package dev.shardopt.cli.train;

import static dev.shardopt.cli.train.TrainCheckpointTest.assertSameCheckpoint;
import static dev.shardopt.cli.train.TrainCommandTest.run;
import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.cli.train.TrainCommandTest.Result;
import java.nio.file.Files;
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
 * Issue 8's "coordinator kill -9 and restart during {@code train --coordinator} with 2 worker processes":
 * a coordinator with {@code --state-dir}, two workers and {@code shardopt train --coordinator} each in its
 * own JVM; the coordinator is killed (SIGKILL) once train has written its checkpoint of step 20, and
 * restarted on the same port and state dir. train goes on by itself (its trainers and the workers retry
 * while the coordinator is down) and its final checkpoint is byte for byte that of an undisturbed run.
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class TrainCoordinatorRestartTest {
  private static final int STEPS = 100;
  private static final List<String> RUN = TrainAgainstProcesses.smallRun(STEPS);
  private static final String KILL_AFTER = "checkpoint step-0000000020: ";

  private final TrainAgainstProcesses p = new TrainAgainstProcesses();

  @TempDir Path dir;

  @AfterEach
  void killAll() throws InterruptedException {
    p.close();
  }

  private String coordinator(String port) throws Exception {
    return p.servers.start(p.serverLog, "coordinator", "--port", port, "--heartbeat-ms", "100", "--state-dir",
        dir.resolve("state").toString());
  }

  @Test
  void trainEndsWithTheUndisturbedRunsFinalCheckpointAfterTheCoordinatorIsKilledAndRestarted() throws Exception {
    Path killed = dir.resolve("killed");
    String address = coordinator("0");
    Process first = p.servers.last();
    String port = address.substring(address.lastIndexOf(':') + 1);
    p.servers.start(p.serverLog, "worker", "--port", "0", "--coordinator", address, "--threads", "1");
    p.servers.start(p.serverLog, "worker", "--port", "0", "--coordinator", address, "--threads", "1");

    CountDownLatch pastStep20 = new CountDownLatch(1);
    List<String> args = new ArrayList<>(RUN);
    args.addAll(List.of("--coordinator", address, "--checkpoint-dir", killed.toString(),
        "--plot", dir.resolve("killed.png").toString()));
    Process train = p.train(args, KILL_AFTER, pastStep20);

    assertThat(pastStep20.await(120, TimeUnit.SECONDS)).as("train wrote step 20's checkpoint: %s", p.trainOutput()).isTrue();
    first.destroyForcibly(); // SIGKILL
    assertThat(first.waitFor(10, TimeUnit.SECONDS)).isTrue();
    assertThat(train.isAlive()).as(p.trainOutput()).isTrue();
    assertThat(p.trainOutput()).doesNotContain("test accuracy");
    assertThat(Files.exists(killed.resolve(String.format("step-%010d", STEPS)))).isFalse();

    assertThat(coordinator(port)).isEqualTo(address);
    assertThat(train.waitFor(150, TimeUnit.SECONDS)).as("train ends: %s", p.trainOutput()).isTrue();
    assertThat(train.exitValue()).as(p.trainOutput()).isZero();
    assertThat(p.trainOutput()).contains("cluster: coordinator " + address).containsPattern("(?m)^test accuracy ");

    Path undisturbed = dir.resolve("undisturbed");
    List<String> same = new ArrayList<>(RUN);
    same.addAll(List.of("--workers", "2", "--checkpoint-dir", undisturbed.toString(),
        "--plot", dir.resolve("undisturbed.png").toString()));
    Result whole = run(same.toArray(String[]::new));
    assertThat(whole.status()).as(whole.err()).isZero();
    assertSameCheckpoint(undisturbed, killed, STEPS); // every .npy, the manifest and the trainer state
    assertThat(TrainAgainstProcesses.accuracy(p.trainOutput())).isEqualTo(TrainAgainstProcesses.accuracy(whole.out()));
    assertThat(p.serverOutput()).doesNotContain("registered again as").doesNotContain("Exception in thread");
  }
}
