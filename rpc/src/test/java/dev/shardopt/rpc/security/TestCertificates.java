package dev.shardopt.rpc.security;

import java.io.IOException;
import java.io.StringWriter;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Date;
import java.util.concurrent.atomic.AtomicLong;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * Certificates made at test time with BouncyCastle: a CA, and certificates it signs for
 * {@code localhost} and {@code 127.0.0.1} (usable as server and as client certificates), written as
 * PEM files (certificate, PKCS#8 key), as {@code --tls-cert}, {@code --tls-key} and {@code --tls-ca}
 * expect them. No private key is checked in.
 */
public final class TestCertificates {
  private static final AtomicLong SERIALS = new AtomicLong(System.nanoTime() & 0xffffffffL);
  private static final SecureRandom RANDOM = new SecureRandom();

  /** A certificate authority: its key, its certificate and where its certificate is written. */
  public static final class Authority {
    private final String name;
    private final KeyPair keys;
    private final X509Certificate cert;
    private final Path certFile;

    private Authority(String name, KeyPair keys, X509Certificate cert, Path certFile) {
      this.name = name;
      this.keys = keys;
      this.cert = cert;
      this.certFile = certFile;
    }

    /** The CA certificate's PEM file, for --tls-ca. */
    public Path certFile() {
      return certFile;
    }

    public X509Certificate certificate() {
      return cert;
    }

    /** A certificate for localhost and 127.0.0.1 valid from an hour ago for a day, in {@code dir/name.pem} and {@code dir/name.key}. */
    public TlsFiles issue(Path dir, String commonName) {
      return issue(dir, commonName, Instant.now().minus(Duration.ofHours(1)), Instant.now().plus(Duration.ofDays(1)));
    }

    /** {@link #issue(Path, String)} whose certificate also names these IP addresses (e.g. a network namespace's). */
    public TlsFiles issue(Path dir, String commonName, List<String> moreAddresses) {
      return issue(dir, commonName, Instant.now().minus(Duration.ofHours(1)), Instant.now().plus(Duration.ofDays(1)),
          moreAddresses);
    }

    /** A certificate valid from {@code notBefore} to {@code notAfter}; TlsFiles with this CA as ca. */
    public TlsFiles issue(Path dir, String commonName, Instant notBefore, Instant notAfter) {
      return issue(dir, commonName, notBefore, notAfter, List.of());
    }

    private TlsFiles issue(Path dir, String commonName, Instant notBefore, Instant notAfter, List<String> moreAddresses) {
      try {
        KeyPair leaf = ecKeys();
        X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(new X500Name("CN=" + name),
            BigInteger.valueOf(SERIALS.incrementAndGet()), Date.from(notBefore), Date.from(notAfter),
            new X500Name("CN=" + commonName), leaf.getPublic());
        JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
        b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
        b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyEncipherment));
        b.addExtension(Extension.extendedKeyUsage, false,
            new ExtendedKeyUsage(new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}));
        List<GeneralName> names = new ArrayList<>(List.of(
            new GeneralName(GeneralName.dNSName, "localhost"), new GeneralName(GeneralName.iPAddress, "127.0.0.1")));
        for (String a : moreAddresses) {
          names.add(new GeneralName(GeneralName.iPAddress, a));
        }
        b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(names.toArray(GeneralName[]::new)));
        b.addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(cert));
        b.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(leaf.getPublic()));
        X509Certificate c = sign(b, keys);
        Path certPath = dir.resolve(commonName + ".pem");
        Path keyPath = dir.resolve(commonName + ".key");
        writeCertificate(certPath, c);
        writeKey(keyPath, leaf);
        return new TlsFiles(certPath, keyPath, certFile);
      } catch (IOException | GeneralSecurityException | org.bouncycastle.operator.OperatorCreationException e) {
        throw new IllegalStateException(e);
      }
    }
  }

  private TestCertificates() {}

  /** A new CA named {@code name}, its certificate written to {@code dir/name-ca.pem}. */
  public static Authority authority(Path dir, String name) {
    try {
      KeyPair keys = ecKeys();
      Instant now = Instant.now();
      X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(new X500Name("CN=" + name),
          BigInteger.valueOf(SERIALS.incrementAndGet()), Date.from(now.minus(Duration.ofHours(2))),
          Date.from(now.plus(Duration.ofDays(30))), new X500Name("CN=" + name), keys.getPublic());
      b.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
      b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
      b.addExtension(Extension.subjectKeyIdentifier, false, new JcaX509ExtensionUtils().createSubjectKeyIdentifier(keys.getPublic()));
      X509Certificate cert = sign(b, keys);
      Files.createDirectories(dir);
      Path file = dir.resolve(name + "-ca.pem");
      writeCertificate(file, cert);
      return new Authority(name, keys, cert, file);
    } catch (IOException | GeneralSecurityException | org.bouncycastle.operator.OperatorCreationException e) {
      throw new IllegalStateException(e);
    }
  }

  private static KeyPair ecKeys() throws GeneralSecurityException {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
    return g.generateKeyPair();
  }

  private static X509Certificate sign(X509v3CertificateBuilder b, KeyPair issuer)
      throws GeneralSecurityException, org.bouncycastle.operator.OperatorCreationException {
    ContentSigner signer = new JcaContentSignerBuilder("SHA256withECDSA").build(issuer.getPrivate());
    return new JcaX509CertificateConverter().getCertificate(b.build(signer));
  }

  static void writeCertificate(Path file, X509Certificate cert) throws IOException {
    StringWriter w = new StringWriter();
    try (JcaPEMWriter pem = new JcaPEMWriter(w)) {
      pem.writeObject(cert);
    }
    Files.writeString(file, w.toString(), StandardCharsets.US_ASCII);
  }

  static void writeKey(Path file, KeyPair keys) throws IOException {
    StringWriter w = new StringWriter();
    try (JcaPEMWriter pem = new JcaPEMWriter(w)) {
      pem.writeObject(new JcaPKCS8Generator(keys.getPrivate(), null));
    }
    Files.writeString(file, w.toString(), StandardCharsets.US_ASCII);
  }
}
