package dev.shardopt.cli;

import static dev.shardopt.cli.SecureClusterFiles.args;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.shardopt.rpc.security.BearerToken;
import dev.shardopt.rpc.security.GrpcSecurity;
import dev.shardopt.rpc.security.TlsFiles;
import dev.shardopt.v1.CoordinatorGrpc;
import dev.shardopt.v1.GetProgressRequest;
import dev.shardopt.v1.GetStatusRequest;
import dev.shardopt.v1.WorkerGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --health-port} on a coordinator and a worker that require mutual TLS and tokens: the health
 * port answers grpc.health.v1.Health/Check in plaintext without a token, and knows no other service;
 * the main port still refuses plaintext and token-less calls.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class HealthPortProcessesTest {
  private static final Pattern HEALTH = Pattern.compile("health on (127\\.0\\.0\\.1:\\d+)");

  private final ClusterProcesses processes = new ClusterProcesses("256m");
  private final List<ManagedChannel> channels = new ArrayList<>();
  @TempDir Path dir;

  @AfterEach
  void closeAll() throws InterruptedException {
    channels.forEach(ManagedChannel::shutdownNow);
    processes.close();
  }

  @Test
  void theHealthPortServesHealthInPlaintextAndNothingElse() throws Exception {
    SecureClusterFiles f = new SecureClusterFiles(dir);
    List<String> coordinatorLog = new ArrayList<>();
    String coordinator = processes.start(coordinatorLog,
        args(f.server(), "coordinator", "--port", "0", "--health-port", "0", "--heartbeat-ms", "100"));
    String coordinatorHealth = healthAddress(coordinatorLog);
    assertThat(coordinatorHealth).isNotEqualTo(coordinator);
    List<String> workerLog = new ArrayList<>();
    String worker = processes.start(workerLog,
        args(f.server(), "worker", "--port", "0", "--health-port", "0", "--coordinator", coordinator, "--threads", "1"));
    String workerHealth = healthAddress(workerLog);

    // the health ports: plaintext, no token, SERVING; every other service UNIMPLEMENTED
    for (String health : List.of(coordinatorHealth, workerHealth)) {
      ManagedChannel plain = plaintext(health);
      assertThat(check(plain)).as(health).isEqualTo(ServingStatus.SERVING);
    }
    ManagedChannel coordinatorPlain = plaintext(coordinatorHealth);
    assertThatThrownBy(() -> CoordinatorGrpc.newBlockingStub(coordinatorPlain).withDeadlineAfter(10, TimeUnit.SECONDS)
        .getStatus(GetStatusRequest.getDefaultInstance()))
        .isInstanceOfSatisfying(StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNIMPLEMENTED));
    ManagedChannel workerPlain = plaintext(workerHealth);
    assertThatThrownBy(() -> WorkerGrpc.newBlockingStub(workerPlain).withDeadlineAfter(10, TimeUnit.SECONDS)
        .getProgress(GetProgressRequest.getDefaultInstance()))
        .isInstanceOfSatisfying(StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNIMPLEMENTED));

    // the main port: plaintext fails; mutual TLS without a token is UNAUTHENTICATED; with the admin's, answered
    ManagedChannel mainPlain = plaintext(coordinator);
    assertThatThrownBy(() -> check(mainPlain)).isInstanceOfSatisfying(StatusRuntimeException.class,
        e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE));
    GrpcSecurity noToken = GrpcSecurity.builder().tls(new TlsFiles(f.client.cert(), f.client.key(), f.ca.certFile())).build();
    ManagedChannel tlsNoToken = track(noToken.channel(coordinator).build());
    assertThatThrownBy(() -> CoordinatorGrpc.newBlockingStub(tlsNoToken).withDeadlineAfter(10, TimeUnit.SECONDS)
        .getStatus(GetStatusRequest.getDefaultInstance()))
        .isInstanceOfSatisfying(StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED));
    GrpcSecurity admin = GrpcSecurity.builder().tls(new TlsFiles(f.client.cert(), f.client.key(), f.ca.certFile()))
        .token(BearerToken.of(SecureClusterFiles.ADMIN)).build();
    ManagedChannel tlsAdmin = track(admin.channel(coordinator).build());
    assertThat(CoordinatorGrpc.newBlockingStub(tlsAdmin).withDeadlineAfter(10, TimeUnit.SECONDS)
        .getStatus(GetStatusRequest.getDefaultInstance()).getWorkersCount()).isEqualTo(1);
    noToken.close();
    admin.close();
  }

  @Test
  void aHealthPortEqualToThePortIsRefused() throws Exception {
    List<String> out = new ArrayList<>();
    Process p = processes.launch(out, line -> { }, "coordinator", "--port", "17391", "--health-port", "17391");
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    Thread.sleep(200); // the reader thread may lag the exit
    assertThat(p.exitValue()).isEqualTo(2);
    synchronized (out) {
      assertThat(String.join("\n", out)).contains("shardopt: --health-port must differ from --port (17391): the health"
          + " port serves plaintext health checks only, the main port the secured services, got --health-port 17391");
    }
  }

  private static ServingStatus check(ManagedChannel channel) {
    return HealthGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
        .check(HealthCheckRequest.getDefaultInstance()).getStatus();
  }

  private ManagedChannel plaintext(String target) {
    return track(NettyChannelBuilder.forTarget(target).usePlaintext().build());
  }

  private ManagedChannel track(ManagedChannel channel) {
    channels.add(channel);
    return channel;
  }

  /** The address in the process's "health on HOST:PORT" line, which follows its "serving on" line. */
  private static String healthAddress(List<String> log) throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (System.nanoTime() < end) {
      synchronized (log) {
        for (String line : log) {
          Matcher m = HEALTH.matcher(line);
          if (m.find()) {
            return m.group(1);
          }
        }
      }
      Thread.sleep(50);
    }
    throw new AssertionError("no 'health on' line in " + log);
  }
}
