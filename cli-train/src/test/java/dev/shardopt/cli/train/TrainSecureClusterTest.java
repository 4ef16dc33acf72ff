package dev.shardopt.cli.train;

import static dev.shardopt.cli.SecureClusterFiles.args;
import static dev.shardopt.cli.train.TrainCommandTest.run;
import static org.assertj.core.api.Assertions.assertThat;

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
 * {@code shardopt train --coordinator} against a coordinator and two workers, each its own JVM, with
 * mutual TLS and bearer tokens on every connection: the run ends with the test accuracy of the same
 * run on the embedded (plaintext, in-process) cluster.
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class TrainSecureClusterTest {
  private static final List<String> RUN = List.of("train", "--batch", "32", "--hidden", "16", "--trainers", "2", "--seed",
      "7", "--steps", "30");

  private final TrainAgainstProcesses p = new TrainAgainstProcesses();
  @TempDir Path dir;

  @AfterEach
  void killAll() throws InterruptedException {
    p.close();
  }

  @Test
  void trainOverMutualTlsWithTokensEndsAsTheEmbeddedRun() throws Exception {
    SecureClusterFiles f = new SecureClusterFiles(dir);
    String coordinator = p.servers.start(p.serverLog, args(f.server(), "coordinator", "--port", "0", "--heartbeat-ms", "100"));
    for (int i = 0; i < 2; i++) {
      p.servers.start(p.serverLog, args(f.server(), "worker", "--port", "0", "--coordinator", coordinator, "--threads", "1"));
    }
    List<String> secure = new ArrayList<>(RUN);
    secure.addAll(List.of("--coordinator", coordinator, "--plot", dir.resolve("secure.png").toString()));
    secure.addAll(f.client("admin"));
    CountDownLatch done = new CountDownLatch(1);
    Process train = p.train(secure, "test accuracy", done);
    assertThat(train.waitFor(180, TimeUnit.SECONDS)).as("train ended: %s", p.trainOutput()).isTrue();
    assertThat(train.exitValue()).as(p.trainOutput()).isZero();
    assertThat(p.trainOutput()).contains("cluster: coordinator " + coordinator);

    List<String> embedded = new ArrayList<>(RUN);
    embedded.addAll(List.of("--plot", dir.resolve("embedded.png").toString()));
    Result reference = run(embedded.toArray(String[]::new));
    assertThat(reference.status()).as(reference.err()).isZero();
    assertThat(TrainAgainstProcesses.accuracy(p.trainOutput())).isEqualTo(TrainAgainstProcesses.accuracy(reference.out()));
    for (String token : List.of(SecureClusterFiles.TRAINER, SecureClusterFiles.ADMIN, SecureClusterFiles.WORKER)) {
      assertThat(p.serverOutput()).doesNotContain(token);
      assertThat(p.trainOutput()).doesNotContain(token);
    }
  }

  @Test
  void tlsOptionsWithoutACoordinatorAreRefused() {
    List<String> a = new ArrayList<>(RUN);
    a.addAll(List.of("--tls-ca", dir.resolve("ca.pem").toString()));
    Result r = run(a.toArray(String[]::new));
    assertThat(r.status()).isEqualTo(2);
    assertThat(r.err()).contains("shardopt: --tls-cert, --tls-key, --tls-ca, --insecure and --token-file secure the"
        + " connection to the cluster at --coordinator; the embedded cluster runs in this process, on loopback");
  }
}
