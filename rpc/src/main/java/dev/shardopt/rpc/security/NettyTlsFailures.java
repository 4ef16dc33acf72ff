package dev.shardopt.rpc.security;

import java.util.function.Consumer;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * A server's side of a TLS mismatch, in one sentence: gRPC's Netty transport logs a plaintext client
 * of a TLS server only at FINE ("TLS negotiation failed", without the cause) and a TLS client of a plaintext server as a
 * corrupt HTTP/2 preface. This handler listens to those two loggers and tells {@code report} what
 * happened. Certificates refused by the trust manager are reported there ({@link ExplainingTrustManager}).
 */
final class NettyTlsFailures extends Handler implements AutoCloseable {
  static final String NEGOTIATORS = "io.grpc.netty.shaded.io.grpc.netty.ProtocolNegotiators";
  static final String SERVER_TRANSPORT = "io.grpc.netty.shaded.io.grpc.netty.NettyServerTransport";

  private final Consumer<String> report;
  // held: java.util.logging keeps loggers only weakly, and their level with them
  private final Logger negotiators = Logger.getLogger(NEGOTIATORS);
  private final Logger transport = Logger.getLogger(SERVER_TRANSPORT);
  private final Level negotiatorsLevel;
  /** Handshakes whose failure this server's trust manager has reported already. */
  private final java.util.concurrent.atomic.AtomicInteger refusedHere = new java.util.concurrent.atomic.AtomicInteger();

  NettyTlsFailures(Consumer<String> report) {
    this.report = report;
    this.negotiatorsLevel = negotiators.getLevel();
    setLevel(Level.FINE);
  }

  /** Listens to gRPC's loggers: for a TLS server, or for a plaintext one. */
  NettyTlsFailures install(boolean tlsServer) {
    if (tlsServer) {
      negotiators.setLevel(Level.FINE);
      negotiators.addHandler(this);
    } else {
      transport.addHandler(this);
    }
    return this;
  }

  @Override
  public void publish(LogRecord record) {
    Throwable thrown = record.getThrown();
    String message = record.getMessage() == null ? "" : record.getMessage();
    if (message.startsWith("TLS negotiation failed")) {
      if (refusedHere.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
        return; // this server's trust manager refused the client's certificate, and said so
      }
      report.accept("a client failed the TLS handshake: it spoke plaintext to this TLS server (give it --tls-ca, and"
          + " --tls-cert and --tls-key when this server requires client certificates), or it refused this server's"
          + " certificate (its own error says why)");
    } else if (thrown != null && String.valueOf(thrown.getMessage()).contains("client preface string missing or corrupt")
        && String.valueOf(thrown.getMessage()).contains("received bytes: 1603")) {
      report.accept("a client spoke TLS to this plaintext server: give this server --tls-cert and --tls-key, or the client"
          + " no --tls-* options");
    }
  }

  /** The trust manager refused a client's certificate (and said why): its handshake's failure is not told again. */
  void refusedByTrustManager() {
    refusedHere.incrementAndGet();
  }

  @Override
  public void flush() {}

  @Override
  public void close() {
    negotiators.removeHandler(this);
    transport.removeHandler(this);
    if (negotiators.getHandlers().length == 0) {
      negotiators.setLevel(negotiatorsLevel);
    }
  }
}
