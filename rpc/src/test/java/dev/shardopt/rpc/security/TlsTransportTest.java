package dev.shardopt.rpc.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TlsTransportTest {
  @TempDir Path dir;
  private final List<AutoCloseable> open = new CopyOnWriteArrayList<>();
  private final List<String> serverRefused = new CopyOnWriteArrayList<>();
  private final List<String> clientRefused = new CopyOnWriteArrayList<>();

  @AfterEach
  void close() throws Exception {
    for (AutoCloseable c : open) {
      c.close();
    }
  }

  private Server serve(GrpcSecurity security) throws Exception {
    open.add(security);
    Server s = security.start(security.server("127.0.0.1", 0).addService(Echo.service()));
    open.add(() -> s.shutdownNow().awaitTermination());
    return s;
  }

  private GrpcSecurity server(TlsFiles files) {
    return GrpcSecurity.builder().tls(files).reloadEvery(Duration.ZERO).onRefusedPeer(serverRefused::add).build();
  }

  private ManagedChannel connect(GrpcSecurity security, Server server) {
    open.add(security);
    ManagedChannel c = security.channel("127.0.0.1:" + server.getPort()).build();
    open.add(() -> c.shutdownNow().awaitTermination(5, java.util.concurrent.TimeUnit.SECONDS));
    return c;
  }

  private GrpcSecurity client(TlsFiles files) {
    return GrpcSecurity.builder().tls(files).reloadEvery(Duration.ZERO).onRefusedPeer(clientRefused::add).build();
  }

  @Test
  void mutualTlsCarriesCalls() throws Exception {
    TestCertificates.Authority ca = TestCertificates.authority(dir, "cluster");
    Server s = serve(server(ca.issue(dir, "server")));
    byte[] answer = Echo.call(connect(client(ca.issue(dir, "client")), s), new byte[] {1, 2, 3});
    assertThat(answer).containsExactly(1, 2, 3);
    assertThat(serverRefused).isEmpty();
  }

  @Test
  void anExpiredClientCertificateIsRefusedWithItsDate() throws Exception {
    TestCertificates.Authority ca = TestCertificates.authority(dir, "cluster");
    Server s = serve(server(ca.issue(dir, "server")));
    Instant expired = Instant.now().minus(Duration.ofHours(1)).truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
    TlsFiles old = ca.issue(dir, "old-client", expired.minus(Duration.ofDays(1)), expired);
    assertThatThrownBy(() -> Echo.call(connect(client(old), s), new byte[] {1}))
        .isInstanceOf(StatusRuntimeException.class)
        .satisfies(e -> assertThat(TransportErrors.describe((StatusRuntimeException) e, true))
            .contains("the server refused this client's certificate (--tls-cert): it has expired"));
    assertThat(serverRefused).singleElement().asString()
        .contains("refused a client's certificate 'CN=old-client'", "it expired at " + expired);
  }

  @Test
  void anExpiredServerCertificateIsRefusedByTheClient() throws Exception {
    TestCertificates.Authority ca = TestCertificates.authority(dir, "cluster");
    Instant expired = Instant.now().minus(Duration.ofMinutes(5)).truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
    Server s = serve(server(ca.issue(dir, "old-server", expired.minus(Duration.ofDays(1)), expired)));
    assertThatThrownBy(() -> Echo.call(connect(client(ca.issue(dir, "client")), s), new byte[] {1}))
        .isInstanceOf(StatusRuntimeException.class)
        .satisfies(e -> assertThat(TransportErrors.describe((StatusRuntimeException) e, true))
            .contains("refused the server's certificate 'CN=old-server'", "it expired at " + expired));
    assertThat(clientRefused).singleElement().asString().contains("it expired at " + expired);
  }

  @Test
  void aClientOfAnotherCaIsRefused() throws Exception {
    TestCertificates.Authority ca = TestCertificates.authority(dir, "cluster");
    TestCertificates.Authority other = TestCertificates.authority(dir, "other");
    Server s = serve(server(ca.issue(dir, "server")));
    TlsFiles stranger = other.issue(dir, "stranger");
    // it trusts the server's CA, but its own certificate is signed by another
    TlsFiles mixed = new TlsFiles(stranger.cert(), stranger.key(), ca.certFile());
    assertThatThrownBy(() -> Echo.call(connect(client(mixed), s), new byte[] {1}))
        .isInstanceOf(StatusRuntimeException.class)
        .satisfies(e -> assertThat(TransportErrors.describe((StatusRuntimeException) e, true))
            .contains("the server refused the TLS handshake, most likely this client's certificate (--tls-cert): not"
                + " signed by a CA the server trusts (its --tls-ca); the server's log says why"));
    // the server's side: the same refusal, with its names

    assertThat(serverRefused).singleElement().asString()
        .contains("refused a client's certificate 'CN=stranger' (issued by 'CN=other')",
            "it is not signed by a CA in --tls-ca " + ca.certFile());
  }

  @Test
  void aServerOfAnotherCaIsRefusedByTheClient() throws Exception {
    TestCertificates.Authority ca = TestCertificates.authority(dir, "cluster");
    TestCertificates.Authority other = TestCertificates.authority(dir, "other");
    Server s = serve(server(other.issue(dir, "impostor")));
    TlsFiles mine = ca.issue(dir, "client");
    assertThatThrownBy(() -> Echo.call(connect(client(mine), s), new byte[] {1}))
        .isInstanceOf(StatusRuntimeException.class)
        .satisfies(e -> assertThat(TransportErrors.describe((StatusRuntimeException) e, true))
            .contains("refused the server's certificate 'CN=impostor' (issued by 'CN=other')",
                "it is not signed by a CA in --tls-ca " + ca.certFile()));
  }

  @Test
  void aPlaintextClientOfATlsServerIsToldSo() throws Exception {
    TestCertificates.Authority ca = TestCertificates.authority(dir, "cluster");
    Server s = serve(server(ca.issue(dir, "server")));
    assertThatThrownBy(() -> Echo.call(connect(GrpcSecurity.plaintext(), s), new byte[] {1}))
        .isInstanceOf(StatusRuntimeException.class)
        .satisfies(e -> assertThat(TransportErrors.describe((StatusRuntimeException) e, false))
            .matches("UNAVAILABLE (Network closed for unknown reason|io exception): the server closed the connection at"
                + " once: if it serves TLS, give this client --tls-ca \\(and --tls-cert/--tls-key when it requires client"
                + " certificates\\)")); // which of the two depends on a race in gRPC
    awaitReport(serverRefused, "a client failed the TLS handshake: it spoke plaintext to this TLS server (give it --tls-ca,"
        + " and --tls-cert and --tls-key when this server requires client certificates), or it refused this server's"
        + " certificate (its own error says why)");
  }

  @Test
  void aTlsClientOfAPlaintextServerIsToldSo() throws Exception {
    TestCertificates.Authority ca = TestCertificates.authority(dir, "cluster");
    Server s = serve(GrpcSecurity.builder().onRefusedPeer(serverRefused::add).build());
    assertThatThrownBy(() -> Echo.call(connect(client(ca.issue(dir, "client")), s), new byte[] {1}))
        .isInstanceOf(StatusRuntimeException.class)
        .satisfies(e -> assertThat(TransportErrors.describe((StatusRuntimeException) e, true))
            .startsWith("UNAVAILABLE io exception: the server does not speak TLS (is it running without --tls-cert?) but"
                + " this client does (--tls-ca/--tls-cert); use the same on both sides"));
    awaitReport(serverRefused, "a client spoke TLS to this plaintext server: give this server --tls-cert and --tls-key,"
        + " or the client no --tls-* options");
  }

  /** The server learns of a failed handshake on its own thread, maybe after the client has its error. */
  private static void awaitReport(List<String> reports, String expected) throws InterruptedException {
    long end = System.nanoTime() + 5_000_000_000L;
    while (!reports.contains(expected) && System.nanoTime() < end) {
      Thread.sleep(20);
    }
    assertThat(reports).contains(expected);
  }

  @Test
  void replacedFilesAreServedToNewConnectionsWithoutARestart() throws Exception {
    TestCertificates.Authority first = TestCertificates.authority(dir.resolve("first"), "first");
    TestCertificates.Authority second = TestCertificates.authority(dir.resolve("second"), "second");
    Path live = java.nio.file.Files.createDirectories(dir.resolve("live"));
    TlsFiles served = new TlsFiles(live.resolve("server.pem"), live.resolve("server.key"), null);
    TlsFiles a = first.issue(dir.resolve("first"), "server-a");
    java.nio.file.Files.copy(a.cert(), served.cert());
    java.nio.file.Files.copy(a.key(), served.key());
    GrpcSecurity security = GrpcSecurity.builder().tls(served).reloadEvery(Duration.ofMillis(100))
        .onRefusedPeer(serverRefused::add).build();
    Server s = serve(security);
    TlsFiles trustsFirst = new TlsFiles(null, null, first.certFile());
    TlsFiles trustsSecond = new TlsFiles(null, null, second.certFile());
    assertThat(Echo.call(connect(client(trustsFirst), s), new byte[] {7})).containsExactly(7);

    // the operator replaces both files (a rename each, as cert managers do); the server is not told
    TlsFiles b = second.issue(dir.resolve("second"), "server-b");
    java.nio.file.Files.copy(b.key(), live.resolve("server.key.new"));
    java.nio.file.Files.copy(b.cert(), live.resolve("server.pem.new"));
    java.nio.file.Files.move(live.resolve("server.key.new"), served.key(), java.nio.file.StandardCopyOption.ATOMIC_MOVE,
        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    java.nio.file.Files.move(live.resolve("server.pem.new"), served.cert(), java.nio.file.StandardCopyOption.ATOMIC_MOVE,
        java.nio.file.StandardCopyOption.REPLACE_EXISTING);

    long end = System.nanoTime() + 10_000_000_000L;
    byte[] answer = null;
    while (answer == null && System.nanoTime() < end) {
      try {
        answer = Echo.call(connect(client(trustsSecond), s), new byte[] {8});
      } catch (StatusRuntimeException notYet) {
        Thread.sleep(100);
      }
    }
    assertThat(answer).as("a new connection trusting only the second CA").containsExactly(8);
    assertThatThrownBy(() -> Echo.call(connect(client(trustsFirst), s), new byte[] {9}))
        .satisfies(e -> assertThat(TransportErrors.describe((StatusRuntimeException) e, true))
            .contains("refused the server's certificate 'CN=server-b' (issued by 'CN=second')"));
  }

  @Test
  void aHalfWrittenFileIsRefusedAndThePreviousCertificateStays() throws Exception {
    TestCertificates.Authority ca = TestCertificates.authority(dir, "cluster");
    TlsFiles files = ca.issue(dir, "server");
    GrpcSecurity security = server(files);
    Server s = serve(security);
    String pem = java.nio.file.Files.readString(files.cert());
    java.nio.file.Files.writeString(files.cert(), pem.substring(0, pem.length() / 2));
    assertThatThrownBy(security::reloadNow).isInstanceOf(SecurityConfigException.class)
        .hasMessageStartingWith("--tls-cert " + files.cert() + ": not a PEM certificate");
    assertThat(Echo.call(connect(client(ca.issue(dir, "client")), s), new byte[] {5})).containsExactly(5);
  }

  @Test
  void aKeyOfAnotherCertificateIsRefusedAtStart() {
    TestCertificates.Authority ca = TestCertificates.authority(dir, "cluster");
    TlsFiles one = ca.issue(dir, "one");
    TlsFiles two = ca.issue(dir, "two");
    assertThatThrownBy(() -> server(new TlsFiles(one.cert(), two.key(), null)))
        .isInstanceOf(SecurityConfigException.class)
        .hasMessage("--tls-key " + two.key() + " is not the key of --tls-cert " + one.cert());
  }

  @Test
  void aCertificateWithoutItsKeyIsRefused() {
    assertThatThrownBy(() -> new TlsFiles(dir.resolve("c.pem"), null, null))
        .isInstanceOf(SecurityConfigException.class)
        .hasMessage("--tls-cert " + dir.resolve("c.pem") + " needs --tls-key, its private key (PKCS#8 PEM)");
  }

  @Test
  void plaintextOnANonLoopbackAddressIsRefusedUnlessInsecure() throws Exception {
    GrpcSecurity plain = GrpcSecurity.plaintext();
    open.add(plain);
    assertThatThrownBy(() -> plain.server("0.0.0.0", 0))
        .isInstanceOf(SecurityConfigException.class)
        .hasMessage("refusing to serve plaintext gRPC on 0.0.0.0, which is not a loopback address: give --tls-cert and"
            + " --tls-key (and --tls-ca to require client certificates), or --insecure to serve without TLS anyway");
    assertThat(plain.server("127.0.0.1", 0)).isNotNull();
    assertThat(plain.server("localhost", 0)).isNotNull();
    GrpcSecurity insecure = GrpcSecurity.builder().insecure(true).build();
    open.add(insecure);
    Server s = insecure.start(insecure.server("0.0.0.0", 0).addService(Echo.service()));
    open.add(() -> s.shutdownNow().awaitTermination());
    assertThat(Echo.call(connect(GrpcSecurity.plaintext(), s), new byte[] {4})).containsExactly(4);
  }

  @Test
  void insecureWithTlsFilesIsAContradiction() {
    TestCertificates.Authority ca = TestCertificates.authority(dir, "cluster");
    assertThatThrownBy(() -> GrpcSecurity.builder().tls(ca.issue(dir, "s")).insecure(true).build())
        .isInstanceOf(SecurityConfigException.class)
        .hasMessage("--insecure serves plaintext: it cannot go with --tls-cert, --tls-key or --tls-ca");
  }

  @Test
  void aServerNeedsItsOwnCertificate() {
    TestCertificates.Authority ca = TestCertificates.authority(dir, "cluster");
    GrpcSecurity onlyCa = client(new TlsFiles(null, null, ca.certFile()));
    assertThatThrownBy(() -> onlyCa.server("127.0.0.1", 0)).isInstanceOf(SecurityConfigException.class)
        .hasMessage("--tls-ca " + ca.certFile() + " alone: a server needs its own certificate, --tls-cert and --tls-key");
  }
}
