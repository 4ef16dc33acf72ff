package dev.shardopt.rpc.security;

/**
 * A security setting that cannot be used: a certificate or key file that does not load, a tokens
 * file with a bad line, a non-loopback bind without TLS. The message names the option, the file
 * (and line) and what is wrong, never a token.
 */
public final class SecurityConfigException extends RuntimeException {
  public SecurityConfigException(String message) {
    super(message);
  }

  public SecurityConfigException(String message, Throwable cause) {
    super(message, cause);
  }
}
