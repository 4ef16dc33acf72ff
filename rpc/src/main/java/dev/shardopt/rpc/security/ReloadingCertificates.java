package dev.shardopt.rpc.security;

import io.grpc.util.AdvancedTlsX509KeyManager;
import io.grpc.util.AdvancedTlsX509TrustManager;
import io.grpc.util.CertificateUtils;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.X509Certificate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The key and trust managers of one process, loaded from {@link TlsFiles} and loaded again by
 * {@link #reload} when the files' contents change: each new TLS handshake uses what was loaded last,
 * connections already open keep theirs. A set of files that does not load (a half-written file, a
 * key that is not the certificate's) is refused whole and the previous one stays in use.
 */
final class ReloadingCertificates {
  private static final Logger log = LoggerFactory.getLogger(ReloadingCertificates.class);

  private final TlsFiles files;
  private final AdvancedTlsX509KeyManager keys;
  private final AdvancedTlsX509TrustManager trust;
  private byte[] loaded = new byte[0];

  /** Loads the files now; a file that does not load is a SecurityConfigException naming its option. */
  ReloadingCertificates(TlsFiles files) {
    this.files = files;
    this.keys = files.cert() == null ? null : new AdvancedTlsX509KeyManager();
    try {
      this.trust = files.ca() == null ? null : AdvancedTlsX509TrustManager.newBuilder()
          .setVerification(AdvancedTlsX509TrustManager.Verification.CERTIFICATE_AND_HOST_NAME_VERIFICATION).build();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("no X509 trust manager in this JVM", e);
    }
    reload();
  }

  /** Null without --tls-cert. */
  AdvancedTlsX509KeyManager keyManager() {
    return keys;
  }

  /** Null without --tls-ca. */
  AdvancedTlsX509TrustManager trustManager() {
    return trust;
  }

  /**
   * Loads the files again when their contents differ from the last load.
   *
   * @return whether new certificates are in use
   * @throws SecurityConfigException when the new files do not load (the previous ones stay in use)
   */
  synchronized boolean reload() {
    byte[] cert = read("--tls-cert", files.cert());
    byte[] key = read("--tls-key", files.key());
    byte[] ca = read("--tls-ca", files.ca());
    byte[] digest = digest(cert, key, ca);
    if (MessageDigest.isEqual(digest, loaded)) {
      return false;
    }
    X509Certificate[] chain = cert == null ? null : certificates("--tls-cert", files.cert(), cert);
    PrivateKey privateKey = key == null ? null : privateKey(key);
    X509Certificate[] roots = ca == null ? null : certificates("--tls-ca", files.ca(), ca);
    if (chain != null) {
      checkPair(chain[0], privateKey);
      keys.updateIdentityCredentials(chain, privateKey);
    }
    if (roots != null) {
      try {
        trust.updateTrustCredentials(roots);
      } catch (IOException | GeneralSecurityException e) {
        throw new SecurityConfigException("--tls-ca " + files.ca() + ": cannot use its certificates: " + e.getMessage(), e);
      }
    }
    boolean first = loaded.length == 0;
    loaded = digest;
    if (!first) {
      log.info("TLS files reloaded: new connections use {}", chain == null ? "the new --tls-ca"
          : "the certificate " + chain[0].getSubjectX500Principal().getName() + " (serial " + chain[0].getSerialNumber().toString(16)
              + ", valid until " + chain[0].getNotAfter().toInstant() + ")");
    }
    return true;
  }

  /** {@link #reload} for the periodic check: a failure is logged and retried at the next check. */
  void reloadQuietly() {
    try {
      reload();
    } catch (SecurityConfigException e) {
      log.warn("TLS files not reloaded, the previous ones stay in use: {}", e.getMessage());
    }
  }

  private static byte[] read(String option, Path file) {
    if (file == null) {
      return null;
    }
    try {
      return Files.readAllBytes(file);
    } catch (IOException e) {
      throw new SecurityConfigException(option + " " + file + ": cannot read it (" + e.getClass().getSimpleName()
          + (e.getMessage() == null ? "" : ": " + e.getMessage()) + ")", e);
    }
  }

  private static X509Certificate[] certificates(String option, Path file, byte[] pem) {
    try {
      X509Certificate[] certs = CertificateUtils.getX509Certificates(new ByteArrayInputStream(pem));
      if (certs.length == 0) {
        throw new SecurityConfigException(option + " " + file + ": no PEM certificate in it (BEGIN CERTIFICATE)");
      }
      return certs;
    } catch (GeneralSecurityException e) {
      throw new SecurityConfigException(option + " " + file + ": not a PEM certificate: " + e.getMessage(), e);
    }
  }

  private PrivateKey privateKey(byte[] pem) {
    try {
      PrivateKey k = CertificateUtils.getPrivateKey(new ByteArrayInputStream(pem));
      if (k == null) {
        throw new SecurityConfigException("--tls-key " + files.key() + ": no PKCS#8 private key in it");
      }
      return k;
    } catch (IOException | GeneralSecurityException | RuntimeException e) {
      if (e instanceof SecurityConfigException s) {
        throw s;
      }
      throw new SecurityConfigException("--tls-key " + files.key() + ": not a PKCS#8 PEM private key ('BEGIN PRIVATE KEY';"
          + " convert one with: openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.pk8): " + e.getMessage(), e);
    }
  }

  /** Signs a message with the key and checks it with the certificate: a key of another certificate fails here, not in a handshake. */
  private void checkPair(X509Certificate cert, PrivateKey key) {
    String algorithm = switch (key.getAlgorithm()) {
      case "RSA" -> "SHA256withRSA";
      case "EC" -> "SHA256withECDSA";
      case "Ed25519", "EdDSA" -> "Ed25519";
      default -> null;
    };
    if (algorithm == null) {
      return; // nothing to check it with; the handshake will tell
    }
    try {
      byte[] message = "shardopt key check".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
      Signature signer = Signature.getInstance(algorithm);
      signer.initSign(key);
      signer.update(message);
      byte[] signature = signer.sign();
      Signature verifier = Signature.getInstance(algorithm);
      verifier.initVerify(cert.getPublicKey());
      verifier.update(message);
      if (!verifier.verify(signature)) {
        throw new SecurityConfigException("--tls-key " + files.key() + " is not the key of --tls-cert " + files.cert());
      }
    } catch (GeneralSecurityException e) {
      throw new SecurityConfigException("--tls-key " + files.key() + " is not the key of --tls-cert " + files.cert()
          + ": " + e.getMessage(), e);
    }
  }

  private static byte[] digest(byte[]... parts) {
    try {
      MessageDigest d = MessageDigest.getInstance("SHA-256");
      for (byte[] p : parts) {
        d.update(p == null ? new byte[] {0} : p);
        d.update((byte) 0xff);
      }
      return d.digest();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("every JVM has SHA-256", e);
    }
  }
}
