package dev.shardopt.cli.train;

import static dev.shardopt.cli.SecureClusterFiles.args;
import static dev.shardopt.cli.train.TrainCheckpointTest.assertSameCheckpoint;
import static dev.shardopt.cli.train.TrainCommandTest.run;
import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.cli.ClusterProcesses;
import dev.shardopt.cli.NetworkNamespaces;
import dev.shardopt.cli.SecureClusterFiles;
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
 * Issue 12's multi-host test: the coordinator, two workers and {@code shardopt train} each run in
 * their own network namespace (a host of their own, 198.18.0.1 to .4 on one bridge), the servers
 * bound to their host's address rather than loopback, with mutual TLS (certificates naming those
 * addresses, made by the test) and a bearer token on every connection. The trainer's link goes down for 3 s in the
 * middle of training; TCP and the client's retries carry it through, and the final checkpoint is
 * byte for byte that of the same run on an embedded cluster.
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class MultiHostTrainTest {
  private static final int STEPS = 100;

  private final List<ClusterProcesses> hosts = new ArrayList<>();
  private NetworkNamespaces net;

  @TempDir Path dir;

  @AfterEach
  void tearDown() throws InterruptedException {
    for (ClusterProcesses h : hosts) {
      h.close();
    }
    if (net != null) {
      net.close();
    }
  }

  private ClusterProcesses on(String host, String heap) {
    ClusterProcesses p = new ClusterProcesses(heap, net.exec(host));
    hosts.add(p);
    return p;
  }

  @Test
  void trainAcrossFourHostsEndsWithTheEmbeddedRunsCheckpointThroughALinkOutage() throws Exception {
    net = NetworkNamespaces.create("coordinator", "w1", "w2", "trainer");
    SecureClusterFiles files = new SecureClusterFiles(dir,
        List.of(net.address("coordinator"), net.address("w1"), net.address("w2")));
    List<String> serverLog = new ArrayList<>();
    String coordinator = on("coordinator", "256m").start(serverLog, args(files.server(), "coordinator",
        "--host", net.address("coordinator"), "--port", "0", "--heartbeat-ms", "100"));
    assertThat(coordinator).startsWith(net.address("coordinator") + ":");
    for (String w : List.of("w1", "w2")) {
      String address = on(w, "256m").start(serverLog, args(files.server(), "worker", "--host", net.address(w),
          "--port", "0", "--coordinator", coordinator, "--threads", "1"));
      assertThat(address).startsWith(net.address(w) + ":");
    }

    Path remote = dir.resolve("remote");
    List<String> args = new ArrayList<>(TrainAgainstProcesses.smallRun(STEPS));
    args.addAll(List.of("--coordinator", coordinator, "--checkpoint-dir", remote.toString(),
        "--plot", dir.resolve("remote.png").toString()));
    args.addAll(files.client("admin")); // train creates its model
    CountDownLatch pastStep20 = new CountDownLatch(1);
    List<String> trainLog = new ArrayList<>();
    Process train = on("trainer", "768m").launch(trainLog, line -> {
      if (line.startsWith("checkpoint step-0000000020: ")) {
        pastStep20.countDown();
      }
    }, args.toArray(String[]::new));
    assertThat(pastStep20.await(120, TimeUnit.SECONDS)).as("train reached step 20: %s", trainLog).isTrue();

    net.link("trainer", false);
    Thread.sleep(3000);
    assertThat(train.isAlive()).as("the outage falls inside training: %s", trainLog).isTrue();
    net.link("trainer", true);

    assertThat(train.waitFor(150, TimeUnit.SECONDS)).as("train ends: %s", trainLog).isTrue();
    String out;
    synchronized (trainLog) {
      out = String.join("\n", trainLog);
    }
    assertThat(train.exitValue()).as(out).isZero();

    Path embedded = dir.resolve("embedded");
    List<String> same = new ArrayList<>(TrainAgainstProcesses.smallRun(STEPS));
    same.addAll(List.of("--workers", "2", "--checkpoint-dir", embedded.toString(),
        "--plot", dir.resolve("embedded.png").toString()));
    Result whole = run(same.toArray(String[]::new));
    assertThat(whole.status()).as(whole.err()).isZero();
    assertSameCheckpoint(embedded, remote, STEPS);
    assertThat(TrainAgainstProcesses.accuracy(out)).isEqualTo(TrainAgainstProcesses.accuracy(whole.out()));
    synchronized (serverLog) {
      assertThat(String.join("\n", serverLog)).doesNotContain(SecureClusterFiles.ADMIN, SecureClusterFiles.WORKER)
          .doesNotContain("insecure");
    }
  }
}
