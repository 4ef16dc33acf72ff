package dev.shardopt.rpc.security;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.Optional;

/**
 * Why a call failed before it reached the server, in words a user can act on, when the cause is a
 * TLS mismatch: the server's certificate refused here, this client's refused there, TLS spoken to a
 * plaintext server or plaintext to a TLS one. gRPC itself says only UNAVAILABLE with the TLS stack's
 * exception as the cause.
 */
public final class TransportErrors {
  private TransportErrors() {}

  /** The status code, its description and, when it applies, the TLS reason ({@link #tlsReason}). */
  public static String describe(StatusRuntimeException e, boolean clientUsesTls) {
    Status s = e.getStatus();
    String text = s.getCode() + (s.getDescription() == null ? "" : " " + firstLine(s.getDescription()));
    return tlsReason(s, clientUsesTls).map(r -> text + ": " + r).orElse(text);
  }

  /** The TLS reason of a failed call, if its status shows one. */
  public static Optional<String> tlsReason(Status s, boolean clientUsesTls) {
    if (s.getCode() != Status.Code.UNAVAILABLE) {
      return Optional.empty();
    }
    for (Throwable t = s.getCause(); t != null; t = t.getCause()) {
      String m = t.getMessage() == null ? "" : t.getMessage();
      if (t instanceof java.security.cert.CertificateException && m.startsWith("refused the server's certificate")) {
        return Optional.of(m);
      }
      if (t.getClass().getSimpleName().equals("NotSslRecordException")) {
        return Optional.of("the server does not speak TLS (is it running without --tls-cert?) but this client does"
            + " (--tls-ca/--tls-cert); use the same on both sides");
      }
      if (m.contains("CERTIFICATE_EXPIRED")) {
        return Optional.of("the server refused this client's certificate (--tls-cert): it has expired");
      }
      if (m.contains("CERTIFICATE_REQUIRED")) {
        return Optional.of("the server requires a client certificate: give this client --tls-cert and --tls-key");
      }
      if (m.contains("UNKNOWN_CA") || m.contains("BAD_CERTIFICATE") || m.contains("CERTIFICATE_UNKNOWN")) {
        return Optional.of("the server refused this client's certificate (--tls-cert): it is not signed by a CA the"
            + " server trusts (its --tls-ca)");
      }
      if (m.contains("ALERT_INTERNAL_ERROR") || m.contains("ALERT_HANDSHAKE_FAILURE")) {
        return Optional.of("the server refused the TLS handshake, most likely this client's certificate (--tls-cert): not"
            + " signed by a CA the server trusts (its --tls-ca); the server's log says why");
      }
    }
    if (!clientUsesTls && (startsWith(s.getDescription(), "Network closed for unknown reason") || reset(s.getCause()))) {
      return Optional.of("the server closed the connection at once: if it serves TLS, give this client --tls-ca (and"
          + " --tls-cert/--tls-key when it requires client certificates)");
    }
    return Optional.empty();
  }

  private static boolean startsWith(String description, String prefix) {
    return description != null && description.startsWith(prefix);
  }

  /** The peer reset the connection: a TLS server answers a plaintext preface so, or by closing it. */
  private static boolean reset(Throwable t) {
    for (; t != null; t = t.getCause()) {
      if (String.valueOf(t.getMessage()).contains("Connection reset")) {
        return true;
      }
    }
    return false;
  }

  private static String firstLine(String s) {
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }
}
