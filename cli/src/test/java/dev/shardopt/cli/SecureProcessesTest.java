package dev.shardopt.cli;

import static dev.shardopt.cli.SecureClusterFiles.args;
import static org.assertj.core.api.Assertions.assertThat;

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
 * The secured processes as an operator meets them: a coordinator and a worker with mutual TLS and
 * tokens, {@code status} with the admin's, a trainer's or no credentials, a worker with a bad tokens
 * file, and plaintext on a non-loopback address refused, then allowed by --insecure with one warning.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class SecureProcessesTest {
  private final ClusterProcesses processes = new ClusterProcesses("256m");
  @TempDir Path dir;

  @AfterEach
  void killAll() throws InterruptedException {
    processes.close();
  }

  /** Runs {@code shardopt ARGS} to its end; its exit status and output. */
  private Ended run(String... args) throws Exception {
    List<String> out = new ArrayList<>();
    Process p = processes.launch(out, line -> { }, args);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("%s ended", List.of(args)).isTrue();
    Thread.sleep(200); // the reader thread may lag the exit
    synchronized (out) {
      return new Ended(p.exitValue(), String.join("\n", out));
    }
  }

  record Ended(int status, String output) {}

  @Test
  void aSecuredClusterServesItsRolesAndTellsEachCallerWhatIsWrong() throws Exception {
    SecureClusterFiles f = new SecureClusterFiles(dir);
    List<String> serverLog = new ArrayList<>();
    String coordinator = processes.start(serverLog, args(f.server(), "coordinator", "--port", "0", "--heartbeat-ms", "100"));
    processes.start(serverLog, args(f.server(), "worker", "--port", "0", "--coordinator", coordinator, "--threads", "1"));
    assertThat(String.join("\n", serverLog)).contains("shardopt coordinator serving on " + coordinator,
        "transport security: mutual TLS, bearer tokens checked, a bearer token sent");

    Ended admin = run(args(f.client("admin"), "status", "--coordinator", coordinator));
    assertThat(admin.status()).as(admin.output()).isZero();
    assertThat(admin.output()).contains("coordinator " + coordinator + ": 1 workers, 0 models");

    Ended trainer = run(args(f.client("trainer"), "status", "--coordinator", coordinator));
    assertThat(trainer.status()).isEqualTo(2);
    assertThat(trainer.output()).contains("shardopt: cannot reach the coordinator at " + coordinator
        + ": PERMISSION_DENIED shardopt.v1.Coordinator/GetStatus needs role admin; the token's role is trainer");
    assertThat(trainer.output()).doesNotContain(SecureClusterFiles.TRAINER);

    Ended plaintext = run("status", "--coordinator", coordinator);
    assertThat(plaintext.status()).isEqualTo(2);
    // gRPC says "Network closed for unknown reason" or "io exception" (connection reset), as the race goes
    assertThat(plaintext.output()).containsPattern("shardopt: cannot reach the coordinator at " + coordinator
        + ": UNAVAILABLE (Network closed for unknown reason|io exception): the server closed the connection at once: if it"
        + " serves TLS, give this client --tls-ca");
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (System.nanoTime() < end && !String.join("\n", serverLog).contains("it spoke plaintext to this TLS server")) {
      Thread.sleep(50);
    }
    synchronized (serverLog) {
      assertThat(String.join("\n", serverLog)).contains("TLS: a client failed the TLS handshake: it spoke plaintext to"
          + " this TLS server");
      for (String token : List.of(SecureClusterFiles.TRAINER, SecureClusterFiles.ADMIN, SecureClusterFiles.WORKER)) {
        assertThat(String.join("\n", serverLog)).doesNotContain(token);
      }
    }

    // a worker whose token the coordinator does not know cannot join
    Path stranger = Files.writeString(dir.resolve("stranger.token"), "not-a-known-token\n");
    List<String> serverArgs = new ArrayList<>(f.server());
    serverArgs.set(serverArgs.indexOf("--token-file") + 1, stranger.toString());
    Ended unknown = run(args(serverArgs, "worker", "--port", "0", "--coordinator", coordinator));
    assertThat(unknown.status()).isEqualTo(2);
    assertThat(unknown.output()).contains("shardopt: cannot register with the coordinator at " + coordinator
        + ": UNAUTHENTICATED shardopt.v1.Coordinator/RegisterWorker: unknown bearer token");
    assertThat(unknown.output()).doesNotContain("not-a-known-token");
  }

  @Test
  void aBadTokensFileStopsTheStartNamingItsLine() throws Exception {
    Path tokens = Files.writeString(dir.resolve("tokens"), "admin a-1\ntrainers t-2\n");
    Ended e = run("worker", "--port", "0", "--coordinator", "127.0.0.1:1", "--auth-tokens", tokens.toString());
    assertThat(e.status()).isEqualTo(2);
    assertThat(e.output()).contains("shardopt: --auth-tokens " + tokens + " line 2: unknown role 'trainers' (allowed:"
        + " trainer, admin, worker)");
  }

  @Test
  void plaintextOnAllAddressesIsRefusedUnlessInsecureThenWarnedOnce() throws Exception {
    Ended refused = run("coordinator", "--port", "0", "--host", "0.0.0.0");
    assertThat(refused.status()).isEqualTo(2);
    assertThat(refused.output()).contains("shardopt: refusing to serve plaintext gRPC on 0.0.0.0, which is not a loopback"
        + " address: give --tls-cert and --tls-key (and --tls-ca to require client certificates), or --insecure to serve"
        + " without TLS anyway");

    List<String> log = new ArrayList<>();
    CountDownLatch serving = new CountDownLatch(1);
    processes.launch(log, line -> {
      if (line.contains("shardopt coordinator serving on 0.0.0.0:")) {
        serving.countDown();
      }
    }, "coordinator", "--port", "0", "--host", "0.0.0.0", "--insecure");
    assertThat(serving.await(60, TimeUnit.SECONDS)).as("%s", log).isTrue();
    synchronized (log) {
      assertThat(log.stream().filter(l -> l.contains("--insecure: serving plaintext gRPC on 0.0.0.0: anyone on the network"
          + " can read the traffic and call every RPC (no --auth-tokens)"))).hasSize(1);
    }
  }
}
