package dev.shardopt.rpc.security;

import java.net.Socket;
import java.security.cert.CertificateException;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.function.Consumer;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * A trust manager that says why it refuses a peer's certificate: expired (when), not yet valid, or not
 * signed by a trusted CA (whose), instead of the JDK's path-validation text. The sentence goes to
 * {@code refused} (the server's log) and is the message of the exception, which the TLS stack carries
 * to this side's error.
 */
final class ExplainingTrustManager extends X509ExtendedTrustManager {
  private final X509ExtendedTrustManager delegate;
  private final String trusted;
  private final Consumer<String> refused;

  /**
   * @param trusted what is trusted, for the message ("--tls-ca ca.pem" or "the system's CAs")
   * @param refused told each refusal's sentence
   */
  ExplainingTrustManager(X509ExtendedTrustManager delegate, String trusted, Consumer<String> refused) {
    this.delegate = delegate;
    this.trusted = trusted;
    this.refused = refused;
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
    try {
      delegate.checkClientTrusted(chain, authType, engine);
    } catch (CertificateException | RuntimeException e) {
      throw explain("a client", chain, e);
    }
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
    try {
      delegate.checkServerTrusted(chain, authType, engine);
    } catch (CertificateException | RuntimeException e) {
      throw explain("the server", chain, e);
    }
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
    try {
      delegate.checkClientTrusted(chain, authType, socket);
    } catch (CertificateException | RuntimeException e) {
      throw explain("a client", chain, e);
    }
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
    try {
      delegate.checkServerTrusted(chain, authType, socket);
    } catch (CertificateException | RuntimeException e) {
      throw explain("the server", chain, e);
    }
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
    delegate.checkClientTrusted(chain, authType);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
    delegate.checkServerTrusted(chain, authType);
  }

  @Override
  public X509Certificate[] getAcceptedIssuers() {
    return delegate.getAcceptedIssuers();
  }

  private CertificateException explain(String whose, X509Certificate[] chain, Exception e) {
    String sentence = "refused " + whose + "'s certificate " + describe(chain) + ": " + reason(chain, e);
    refused.accept(sentence);
    return new CertificateException(sentence, e);
  }

  private static String describe(X509Certificate[] chain) {
    if (chain == null || chain.length == 0) {
      return "(none presented)";
    }
    return "'" + chain[0].getSubjectX500Principal().getName() + "' (issued by '" + chain[0].getIssuerX500Principal().getName() + "')";
  }

  private String reason(X509Certificate[] chain, Exception e) {
    if (chain != null && chain.length > 0) {
      Instant now = Instant.now();
      for (X509Certificate c : chain) {
        try {
          c.checkValidity();
        } catch (CertificateExpiredException x) {
          return "it expired at " + c.getNotAfter().toInstant() + " (now " + now + ")";
        } catch (CertificateNotYetValidException x) {
          return "it is not valid before " + c.getNotBefore().toInstant() + " (now " + now + ")";
        }
      }
    }
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof java.security.cert.CertPathValidatorException
          || t.getClass().getName().endsWith("SunCertPathBuilderException")) {
        return "it is not signed by a CA in " + trusted;
      }
    }
    String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    if (m.contains("No subject alternative") || m.contains("No name matching")) {
      return "its names do not match the address called (" + m + ")";
    }
    return m;
  }
}
