package dev.shardopt.cli;

import dev.shardopt.rpc.security.TestCertificates;
import dev.shardopt.rpc.security.TlsFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The files of a secured cluster, made at test time in {@code dir}: a CA, one certificate for the
 * servers (coordinator and workers) and one for clients, a tokens file with a token per role, and a
 * token file per role. {@link #server} and {@link #client} are the command-line options that use them.
 * Shared with cli-train's tests through this module's test jar.
 */
public final class SecureClusterFiles {
  public static final String TRAINER = "trainer-5d1c2b3a49586f70";
  public static final String ADMIN = "admin-a1b2c3d4e5f60718";
  public static final String WORKER = "worker-0e1d2c3b4a596877";

  public final TestCertificates.Authority ca;
  public final TlsFiles node;
  public final TlsFiles client;
  public final Path tokens;
  private final Path dir;

  public SecureClusterFiles(Path dir) throws IOException {
    this(dir, List.of());
  }

  /** @param serverAddresses IP addresses the servers' certificate names besides localhost and 127.0.0.1 */
  public SecureClusterFiles(Path dir, List<String> serverAddresses) throws IOException {
    this.dir = dir;
    this.ca = TestCertificates.authority(dir, "cluster");
    this.node = ca.issue(dir, "node", serverAddresses);
    this.client = ca.issue(dir, "client");
    this.tokens = Files.writeString(dir.resolve("tokens"),
        "# role token\ntrainer " + TRAINER + "\nadmin " + ADMIN + "\nworker " + WORKER + "\n");
    for (String role : List.of("trainer", "admin", "worker")) {
      Files.writeString(tokenFile(role), switch (role) {
        case "trainer" -> TRAINER;
        case "admin" -> ADMIN;
        default -> WORKER;
      } + "\n");
    }
  }

  /** The file holding {@code role}'s token. */
  public Path tokenFile(String role) {
    return dir.resolve(role + ".token");
  }

  /** A coordinator's or worker's options: mutual TLS, the tokens file, and the worker token for its own calls. */
  public List<String> server() {
    return List.of("--tls-cert", node.cert().toString(), "--tls-key", node.key().toString(), "--tls-ca",
        ca.certFile().toString(), "--auth-tokens", tokens.toString(), "--token-file", tokenFile("worker").toString());
  }

  /** A client's options: mutual TLS with the client certificate, and {@code role}'s token. */
  public List<String> client(String role) {
    return List.of("--tls-cert", client.cert().toString(), "--tls-key", client.key().toString(), "--tls-ca",
        ca.certFile().toString(), "--token-file", tokenFile(role).toString());
  }

  /** {@code command} (a subcommand and its arguments) then {@code options}, as one argument array. */
  public static String[] args(List<String> options, String... command) {
    List<String> all = new ArrayList<>(List.of(command));
    all.addAll(options);
    return all.toArray(String[]::new);
  }
}
