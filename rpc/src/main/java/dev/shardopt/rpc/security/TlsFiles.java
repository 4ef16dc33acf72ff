package dev.shardopt.rpc.security;

import java.nio.file.Path;

/**
 * The PEM files of {@code --tls-cert}, {@code --tls-key} (PKCS#8) and {@code --tls-ca}; each may be null.
 * A server needs cert and key; with ca it requires client certificates signed by it. A client trusts ca
 * (else the system's roots) and presents cert and key when given (mutual TLS).
 */
public record TlsFiles(Path cert, Path key, Path ca) {
  public TlsFiles {
    if ((cert == null) != (key == null)) {
      throw new SecurityConfigException(cert == null
          ? "--tls-key " + key + " needs --tls-cert, the certificate of that key"
          : "--tls-cert " + cert + " needs --tls-key, its private key (PKCS#8 PEM)");
    }
  }

  /** Whether any file is given: TLS is on. */
  public boolean any() {
    return cert != null || key != null || ca != null;
  }
}
