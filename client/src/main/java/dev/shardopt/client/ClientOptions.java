package dev.shardopt.client;

import dev.shardopt.rpc.TensorBytes;
import dev.shardopt.rpc.security.BearerToken;
import dev.shardopt.rpc.security.TlsFiles;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * Tuning of a {@link ShardoptCluster}, as an immutable value: {@code
 * ClientOptions.defaults().rpcDeadline(Duration.ofSeconds(30))}.
 *
 * <ul>
 *   <li>{@code chunkBytes}: the data of one push, upload or pull chunk, a multiple of 4 up to
 *       {@link TensorBytes#DEFAULT_CHUNK_BYTES} (4 MiB less 64 KiB, the default).
 *   <li>{@code rpcDeadline}: deadline of each call, and of each worker's stream of a push, pull or
 *       upload (default 120 s: longer than a worker's default 60 s wait, so that a slow step reports
 *       the worker's own message rather than a bare client deadline). A sync pull waits for the
 *       other trainers within it.
 *   <li>{@code readyTimeout}: how long createModel waits for the model to become READY (default 60 s).
 *   <li>{@code checkpointDeadline}: deadline of a {@link RemoteModel#checkpoint} call, which returns
 *       only once every worker has written its shards (default 10 min).
 *   <li>{@code pushAttempts}, {@code retryBackoff}: a push a worker answers with UNAVAILABLE is sent
 *       again to that worker, up to {@code pushAttempts} attempts in all (default 3), after
 *       {@code retryBackoff} (default 200 ms), doubling each time.
 *   <li>{@code failoverWait}: of a replicated model, a push or pull a worker does not answer is
 *       tried again, reading the shard map each time, until the map moves the worker's shards to
 *       their backups, for up to this long (default 60 s).
 *   <li>{@code tls}, {@code token}: TLS or mutual TLS to every server, and the bearer token sent on
 *       every call (default: plaintext, and the token of {@code SHARDOPT_TOKEN} when it is set).
 * </ul>
 */
public final class ClientOptions {
  private static final ClientOptions DEFAULTS = new ClientOptions(
      TensorBytes.DEFAULT_CHUNK_BYTES, Duration.ofSeconds(120), Duration.ofSeconds(60), 3,
      Duration.ofMillis(200), Duration.ofMinutes(10), Duration.ofSeconds(60), null, null);

  private final int chunkBytes;
  private final Duration rpcDeadline;
  private final Duration readyTimeout;
  private final int pushAttempts;
  private final Duration retryBackoff;
  private final Duration checkpointDeadline;
  private final Duration failoverWait;
  private final TlsFiles tls;
  private final BearerToken token;

  private ClientOptions(int chunkBytes, Duration rpcDeadline, Duration readyTimeout,
      int pushAttempts, Duration retryBackoff, Duration checkpointDeadline, Duration failoverWait, TlsFiles tls,
      BearerToken token) {
    this.tls = tls;
    this.token = token;
    this.chunkBytes = chunkBytes;
    this.rpcDeadline = rpcDeadline;
    this.readyTimeout = readyTimeout;
    this.pushAttempts = pushAttempts;
    this.retryBackoff = retryBackoff;
    this.checkpointDeadline = checkpointDeadline;
    this.failoverWait = failoverWait;
  }

  public static ClientOptions defaults() {
    return DEFAULTS;
  }

  public ClientOptions chunkBytes(int bytes) {
    if (bytes < Float.BYTES || bytes > TensorBytes.DEFAULT_CHUNK_BYTES || bytes % Float.BYTES != 0) {
      throw new IllegalArgumentException(
          "chunkBytes must be a multiple of 4 in [4, " + TensorBytes.DEFAULT_CHUNK_BYTES + "], got "
              + bytes);
    }
    return new ClientOptions(bytes, rpcDeadline, readyTimeout, pushAttempts, retryBackoff,
        checkpointDeadline, failoverWait, tls, token);
  }

  public ClientOptions rpcDeadline(Duration d) {
    return new ClientOptions(chunkBytes, positive("rpcDeadline", d), readyTimeout, pushAttempts,
        retryBackoff, checkpointDeadline, failoverWait, tls, token);
  }

  public ClientOptions readyTimeout(Duration d) {
    return new ClientOptions(chunkBytes, rpcDeadline, positive("readyTimeout", d), pushAttempts,
        retryBackoff, checkpointDeadline, failoverWait, tls, token);
  }

  /** Attempts in all for a push answered with UNAVAILABLE; 1: no retry. */
  public ClientOptions pushAttempts(int attempts) {
    if (attempts < 1 || attempts > 10) {
      throw new IllegalArgumentException("pushAttempts must be in [1, 10], got " + attempts);
    }
    return new ClientOptions(chunkBytes, rpcDeadline, readyTimeout, attempts, retryBackoff,
        checkpointDeadline, failoverWait, tls, token);
  }

  public ClientOptions retryBackoff(Duration d) {
    Objects.requireNonNull(d, "retryBackoff");
    if (d.isNegative()) {
      throw new IllegalArgumentException("retryBackoff must not be negative, got " + d);
    }
    return new ClientOptions(chunkBytes, rpcDeadline, readyTimeout, pushAttempts, d,
        checkpointDeadline, failoverWait, tls, token);
  }

  /** Deadline of a checkpoint call (snapshot and the workers' writes). */
  public ClientOptions checkpointDeadline(Duration d) {
    return new ClientOptions(chunkBytes, rpcDeadline, readyTimeout, pushAttempts, retryBackoff,
        positive("checkpointDeadline", d), failoverWait, tls, token);
  }

  /**
   * How long a push or pull of a replicated model keeps trying a worker that does not answer, reading
   * the shard map again, before it fails: it must outlast the coordinator's failure timeout, after
   * which the worker's shards move to their backups (default 60 s).
   */
  public ClientOptions failoverWait(Duration d) {
    return new ClientOptions(chunkBytes, rpcDeadline, readyTimeout, pushAttempts, retryBackoff, checkpointDeadline,
        positive("failoverWait", d), tls, token);
  }

  /**
   * TLS to the coordinator and the workers: {@code ca} the CA to trust (null: the system's), {@code cert}
   * and {@code key} (PKCS#8) this client's certificate for mutual TLS (both null: none). The files are
   * read when the cluster client is made, and again when they change.
   */
  public ClientOptions tls(Path ca, Path cert, Path key) {
    return new ClientOptions(chunkBytes, rpcDeadline, readyTimeout, pushAttempts, retryBackoff, checkpointDeadline,
        failoverWait, new TlsFiles(cert, key, ca), token);
  }

  /** The bearer token sent on every call (default: {@code SHARDOPT_TOKEN} when it is set, else none). */
  public ClientOptions token(String bearer) {
    return token(BearerToken.of(bearer));
  }

  public ClientOptions token(BearerToken bearer) {
    return new ClientOptions(chunkBytes, rpcDeadline, readyTimeout, pushAttempts, retryBackoff, checkpointDeadline,
        failoverWait, tls, Objects.requireNonNull(bearer, "token"));
  }

  /** The TLS files, or null: plaintext. */
  public TlsFiles tls() {
    return tls;
  }

  /** The token set here, or null (then {@code SHARDOPT_TOKEN}, if set, is sent). */
  public BearerToken token() {
    return token;
  }

  public Duration failoverWait() {
    return failoverWait;
  }

  public int chunkBytes() {
    return chunkBytes;
  }

  /** Elements per chunk. */
  public int chunkElements() {
    return chunkBytes / Float.BYTES;
  }

  public Duration rpcDeadline() {
    return rpcDeadline;
  }

  public Duration readyTimeout() {
    return readyTimeout;
  }

  public int pushAttempts() {
    return pushAttempts;
  }

  public Duration retryBackoff() {
    return retryBackoff;
  }

  public Duration checkpointDeadline() {
    return checkpointDeadline;
  }

  private static Duration positive(String what, Duration d) {
    Objects.requireNonNull(d, what);
    if (d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException(what + " must be positive, got " + d);
    }
    return d;
  }

  @Override
  public String toString() {
    return "ClientOptions{chunkBytes=" + chunkBytes + ", rpcDeadline=" + rpcDeadline
        + ", readyTimeout=" + readyTimeout + ", pushAttempts=" + pushAttempts + ", retryBackoff="
        + retryBackoff + ", checkpointDeadline=" + checkpointDeadline + ", failoverWait=" + failoverWait
        + (tls == null ? "" : ", " + tls) + (token == null ? "" : ", token=hidden") + "}";
  }
}
