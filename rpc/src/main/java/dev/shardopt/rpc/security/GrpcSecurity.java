package dev.shardopt.rpc.security;

import io.grpc.ChannelCredentials;
import io.grpc.InsecureChannelCredentials;
import io.grpc.InsecureServerCredentials;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Server;
import io.grpc.ServerCredentials;
import io.grpc.TlsChannelCredentials;
import io.grpc.TlsServerCredentials;
import dev.shardopt.rpc.local.InProcessEndpoints;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.util.AdvancedTlsX509TrustManager;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import javax.net.ssl.X509ExtendedTrustManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place where a Shardopt process's gRPC servers and channels get their transport security:
 * TLS or mutual TLS from {@link TlsFiles} (certificates reloaded from their files, see
 * {@link #reloadNow}), bearer-token checks on its servers ({@link AuthTokens}, {@link AccessPolicy}),
 * and the token its channels send ({@link BearerToken}).
 *
 * <p>Without TLS a server binds only a loopback address, unless {@code --insecure} is given; then it
 * logs a warning once. One instance serves a process: build it from the command's options, hand it to
 * every server and client there, and close it at the end (it stops the reload checks).
 */
public final class GrpcSecurity implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(GrpcSecurity.class);
  /** How often the TLS files are checked for new contents, by default. */
  public static final Duration DEFAULT_RELOAD = Duration.ofSeconds(60);

  private final TlsFiles files;
  private final boolean insecure;
  private final AuthTokens tokens;
  private final AccessPolicy policy;
  private final BearerToken token;
  private final ReloadingCertificates certificates;
  private final Consumer<String> refusedPeers;
  private final ScheduledExecutorService reloads;
  private final AtomicBoolean warnedServer = new AtomicBoolean();
  private final AtomicBoolean warnedChannel = new AtomicBoolean();
  private final NettyTlsFailures nettyFailures;
  private final AtomicBoolean listening = new AtomicBoolean();
  private final InProcessEndpoints inProcess;

  private GrpcSecurity(Builder b) {
    this.files = b.files;
    this.insecure = b.insecure;
    this.tokens = b.tokens;
    this.policy = b.policy;
    this.token = b.token;
    this.refusedPeers = b.refusedPeers;
    this.nettyFailures = new NettyTlsFailures(refusedPeers);
    this.inProcess = b.inProcess;
    if (insecure && files.any()) {
      throw new SecurityConfigException("--insecure serves plaintext: it cannot go with --tls-cert, --tls-key or --tls-ca");
    }
    this.certificates = files.any() ? new ReloadingCertificates(files) : null;
    if (certificates != null && !b.reloadEvery.isZero()) {
      reloads = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "tls-reload");
        t.setDaemon(true);
        return t;
      });
      long every = b.reloadEvery.toMillis();
      reloads.scheduleWithFixedDelay(certificates::reloadQuietly, every, every, TimeUnit.MILLISECONDS);
    } else {
      reloads = null;
    }
  }

  /** No TLS, no tokens: servers on loopback only (what every test and the embedded cluster use). */
  public static GrpcSecurity plaintext() {
    return builder().build();
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Whether TLS is on. */
  public boolean tls() {
    return certificates != null;
  }

  /** "plaintext", "TLS" or "mutual TLS" (client certificates required), and whether tokens are checked and sent. */
  public String summary() {
    String transport = certificates == null ? "plaintext" : certificates.trustManager() != null ? "mutual TLS" : "TLS";
    return transport + (tokens != null ? ", bearer tokens checked" : "") + (token != null ? ", a bearer token sent" : "");
  }

  /** Whether this process's servers check bearer tokens. */
  public boolean authenticates() {
    return tokens != null;
  }

  /** The token this process's channels send, if any. */
  public Optional<BearerToken> token() {
    return Optional.ofNullable(token);
  }

  /**
   * A Netty server builder on {@code host:port} with this process's credentials and token checks.
   *
   * @throws SecurityConfigException for a non-loopback host without TLS and without --insecure, or TLS
   *     without a certificate of its own
   */
  public NettyServerBuilder server(String host, int port) {
    ServerCredentials credentials;
    if (certificates == null) {
      if (!isLoopback(host)) {
        if (!insecure) {
          throw new SecurityConfigException("refusing to serve plaintext gRPC on " + host + ", which is not a loopback"
              + " address: give --tls-cert and --tls-key (and --tls-ca to require client certificates), or --insecure"
              + " to serve without TLS anyway");
        }
        if (warnedServer.compareAndSet(false, true)) {
          log.warn("--insecure: serving plaintext gRPC on {}: anyone on the network can read the traffic{}", host,
              tokens == null ? " and call every RPC (no --auth-tokens)" : ", tokens included");
        }
      }
      credentials = InsecureServerCredentials.create();
    } else {
      if (certificates.keyManager() == null) {
        throw new SecurityConfigException("--tls-ca " + files.ca() + " alone: a server needs its own certificate,"
            + " --tls-cert and --tls-key");
      }
      TlsServerCredentials.Builder tls = TlsServerCredentials.newBuilder().keyManager(certificates.keyManager());
      if (certificates.trustManager() != null) {
        tls.trustManager(new ExplainingTrustManager(certificates.trustManager(), "--tls-ca " + files.ca(), sentence -> {
          nettyFailures.refusedByTrustManager();
          refusedPeers.accept(sentence);
        })).clientAuth(TlsServerCredentials.ClientAuth.REQUIRE);
      }
      credentials = tls.build();
    }
    if (listening.compareAndSet(false, true)) {
      nettyFailures.install(certificates != null);
    }
    NettyServerBuilder builder = NettyServerBuilder.forAddress(new InetSocketAddress(host, port), credentials);
    if (tokens != null) {
      builder.intercept(new AuthInterceptor(tokens, policy));
    }
    return builder;
  }

  /**
   * Builds and starts {@code builder}. With token checks on, a service method without a rule in the
   * access policy stops the start (a new RPC must be given its roles). With {@link
   * Builder#inProcess} and no TLS, the same services are also served in-process to this process's
   * own channels (token checks included), and the returned server stops both.
   */
  public Server start(NettyServerBuilder builder) throws IOException {
    Server server = builder.build().start();
    if (tokens != null) {
      List<String> missing = policy.uncovered(server.getServices());
      if (!missing.isEmpty()) {
        server.shutdownNow();
        throw new IllegalStateException("these RPCs have no access rule (AccessPolicy): " + missing);
      }
    }
    if (inProcess != null && certificates == null) {
      try {
        return inProcess.twin(server, tokens == null ? List.of() : List.of(new AuthInterceptor(tokens, policy)));
      } catch (IOException | RuntimeException e) {
        server.shutdownNow();
        throw e;
      }
    }
    return server;
  }

  /**
   * A channel builder to {@code target} with this process's credentials and token: a Netty channel,
   * or an in-process one when {@code target} is a loopback {@code host:port} that this process
   * serves itself ({@link Builder#inProcess}, without TLS).
   */
  public ManagedChannelBuilder<?> channel(String target) {
    if (inProcess != null && certificates == null) {
      Optional<ManagedChannelBuilder<?>> local = loopbackPort(target).flatMap(inProcess::channel);
      if (local.isPresent()) {
        if (token != null) {
          local.get().intercept(token.interceptor());
        }
        return local.get();
      }
    }
    return nettyChannel(target);
  }

  private NettyChannelBuilder nettyChannel(String target) {
    ChannelCredentials credentials;
    if (certificates == null) {
      if (!insecure && !warnedChannel.get() && !isLoopback(hostOf(target)) && warnedChannel.compareAndSet(false, true)) {
        log.warn("calling {} without TLS: the traffic{} can be read on the network (give --tls-ca, or --insecure to"
            + " silence this)", target, token == null ? "" : ", bearer token included,");
      }
      credentials = InsecureChannelCredentials.create();
    } else {
      TlsChannelCredentials.Builder tls = TlsChannelCredentials.newBuilder();
      if (certificates.keyManager() != null) {
        tls.keyManager(certificates.keyManager());
      }
      tls.trustManager(certificates.trustManager() != null
          ? explaining(certificates.trustManager(), "--tls-ca " + files.ca())
          : explaining(systemTrust(), "the system's CAs (no --tls-ca)"));
      credentials = tls.build();
    }
    NettyChannelBuilder builder = NettyChannelBuilder.forTarget(target, credentials);
    if (token != null) {
      builder.intercept(token.interceptor());
    }
    return builder;
  }

  /**
   * Loads the TLS files again now when their contents changed (they are also checked every
   * {@link Builder#reloadEvery} period): new handshakes use the new certificates.
   *
   * @return whether new certificates are in use
   * @throws SecurityConfigException when the new files do not load; the previous ones stay in use
   */
  public boolean reloadNow() {
    return certificates != null && certificates.reload();
  }

  /** {@code e} in words, with the TLS reason when the connection failed in its handshake ({@link TransportErrors}). */
  public String describe(io.grpc.StatusRuntimeException e) {
    return TransportErrors.describe(e, tls());
  }

  @Override
  public synchronized void close() {
    if (reloads != null) {
      reloads.shutdownNow();
    }
    nettyFailures.close();
  }

  private X509ExtendedTrustManager explaining(X509ExtendedTrustManager trust, String trusted) {
    return new ExplainingTrustManager(trust, trusted, refusedPeers);
  }

  private static X509ExtendedTrustManager systemTrust() {
    try {
      AdvancedTlsX509TrustManager t = AdvancedTlsX509TrustManager.newBuilder().build();
      t.useSystemDefaultTrustCerts();
      return t;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("the JVM's default trust store cannot be read", e);
    }
  }

  /** The host of {@code host:port}, {@code [v6]:port} or a bare host; the whole target otherwise. */
  static String hostOf(String target) {
    if (target.contains("://") || target.startsWith("dns:")) {
      return target;
    }
    if (target.startsWith("[")) {
      int end = target.indexOf(']');
      return end > 0 ? target.substring(1, end) : target;
    }
    int colon = target.lastIndexOf(':');
    return colon > 0 && target.indexOf(':') == colon ? target.substring(0, colon) : target;
  }

  /** The port of a loopback {@code host:port} target, if it is one. */
  static Optional<Integer> loopbackPort(String target) {
    String host = hostOf(target);
    if (host.equals(target) || !isLoopback(host)) {
      return Optional.empty();
    }
    try {
      return Optional.of(Integer.parseInt(target.substring(target.lastIndexOf(':') + 1)));
    } catch (NumberFormatException e) {
      return Optional.empty();
    }
  }

  /** Whether every address {@code host} names is a loopback address (an unknown host is not). */
  static boolean isLoopback(String host) {
    try {
      InetAddress[] all = InetAddress.getAllByName(host);
      for (InetAddress a : all) {
        if (!a.isLoopbackAddress()) {
          return false;
        }
      }
      return all.length > 0;
    } catch (UnknownHostException | SecurityException e) {
      return false;
    }
  }

  public static final class Builder {
    private TlsFiles files = new TlsFiles(null, null, null);
    private boolean insecure;
    private AuthTokens tokens;
    private AccessPolicy policy = AccessPolicy.shardopt();
    private BearerToken token;
    private Duration reloadEvery = DEFAULT_RELOAD;
    private Consumer<String> refusedPeers = sentence -> log.warn("TLS: {}", sentence);
    private InProcessEndpoints inProcess;

    private Builder() {}

    public Builder tls(TlsFiles f) {
      this.files = Objects.requireNonNull(f, "tls");
      return this;
    }

    /** Allow plaintext servers on non-loopback addresses (logged once as a warning). */
    public Builder insecure(boolean allow) {
      this.insecure = allow;
      return this;
    }

    /** Servers check every call's token against these (null: no checks). */
    public Builder authTokens(AuthTokens t) {
      this.tokens = t;
      return this;
    }

    public Builder policy(AccessPolicy p) {
      this.policy = Objects.requireNonNull(p, "policy");
      return this;
    }

    /** Channels send this token (null: none). */
    public Builder token(BearerToken t) {
      this.token = t;
      return this;
    }

    /** How often to check the TLS files for new contents (zero: only on {@link #reloadNow}). */
    public Builder reloadEvery(Duration d) {
      if (d.isNegative()) {
        throw new IllegalArgumentException("reloadEvery must not be negative, got " + d);
      }
      this.reloadEvery = d;
      return this;
    }

    /** Told a sentence for each peer certificate refused (default: a warning in the log). */
    public Builder onRefusedPeer(Consumer<String> c) {
      this.refusedPeers = Objects.requireNonNull(c, "onRefusedPeer");
      return this;
    }

    /**
     * Serve this process's loopback servers to its own channels in-process too (shared by an
     * embedded cluster's servers and its client); ignored with TLS, whose checks need a socket.
     */
    public Builder inProcess(InProcessEndpoints endpoints) {
      this.inProcess = Objects.requireNonNull(endpoints, "endpoints");
      return this;
    }

    /** @throws SecurityConfigException when a file does not load, or --insecure goes with TLS files */
    public GrpcSecurity build() {
      return new GrpcSecurity(this);
    }
  }
}
