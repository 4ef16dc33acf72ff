package dev.shardopt.cli;

import dev.shardopt.client.ClientOptions;
import dev.shardopt.rpc.security.AuthTokens;
import dev.shardopt.rpc.security.BearerToken;
import dev.shardopt.rpc.security.GrpcSecurity;
import dev.shardopt.rpc.security.SecurityConfigException;
import dev.shardopt.rpc.security.TlsFiles;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * {@code --tls-cert}, {@code --tls-key}, {@code --tls-ca}, {@code --insecure} and {@code --token-file}:
 * the transport security of a command's gRPC servers and channels (docs/security.md). A mixin of every
 * command that serves or calls gRPC; the servers add {@link AuthOptions}.
 */
public final class SecurityOptions {
  @Option(names = "--tls-cert", paramLabel = "PEM",
      description = "This process's certificate (PEM, with its chain): a server's for TLS, a client's for mutual TLS."
          + " Reloaded when the file changes (checked every minute).")
  Path cert;

  @Option(names = "--tls-key", paramLabel = "PEM", description = "The private key of --tls-cert (PKCS#8 PEM, 'BEGIN PRIVATE KEY').")
  Path key;

  @Option(names = "--tls-ca", paramLabel = "PEM",
      description = "CA certificates (PEM). A server requires client certificates signed by them (mutual TLS); a client"
          + " trusts servers signed by them (default with --tls-cert alone: the system's CAs).")
  Path ca;

  @Option(names = "--insecure",
      description = "Serve plaintext gRPC on a non-loopback --host (refused otherwise; logged as a warning). Not with --tls-*.")
  boolean insecure;

  @Option(names = "--token-file", paramLabel = "FILE",
      description = "Send the bearer token on the first line of FILE with every call (default: the SHARDOPT_TOKEN"
          + " environment variable, if set). A worker's and the coordinator's token must have role worker.")
  Path tokenFile;

  /** Whether any TLS option is given. */
  public boolean tls() {
    return cert != null || key != null || ca != null;
  }

  /** Whether any option of this mixin is given (the environment's token aside). */
  public boolean any() {
    return tls() || insecure || tokenFile != null;
  }

  /**
   * The process's security, with {@code tokens} checked on its servers (null: none); a file that does not
   * load is a user error naming it.
   */
  public GrpcSecurity security(AuthTokens tokens) {
    try {
      return GrpcSecurity.builder().tls(new TlsFiles(cert, key, ca)).insecure(insecure).authTokens(tokens)
          .token(BearerToken.resolve(tokenFile, System.getenv())).build();
    } catch (SecurityConfigException e) {
      throw new UserErrorException(e.getMessage(), e);
    }
  }

  /** {@code base} with these TLS files and token (a bad --token-file is a user error). */
  public ClientOptions client(ClientOptions base) {
    try {
      ClientOptions o = tls() ? base.tls(ca, cert, key) : base;
      BearerToken token = BearerToken.resolve(tokenFile, System.getenv());
      return token == null ? o : o.token(token);
    } catch (SecurityConfigException e) {
      throw new UserErrorException(e.getMessage(), e);
    }
  }

}
