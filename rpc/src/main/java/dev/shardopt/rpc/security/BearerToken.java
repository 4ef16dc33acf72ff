package dev.shardopt.rpc.security;

import io.grpc.ClientInterceptor;
import io.grpc.Metadata;
import io.grpc.stub.MetadataUtils;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * The token a client sends as {@code authorization: Bearer <token>} on every call: the first line of
 * {@code --token-file FILE} (trimmed), else the {@code SHARDOPT_TOKEN} environment variable. Its
 * {@link #toString} never shows it.
 */
public final class BearerToken {
  /** The call metadata key, as every Shardopt client sends it. */
  public static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
  public static final String ENVIRONMENT_VARIABLE = "SHARDOPT_TOKEN";

  private final String token;

  private BearerToken(String token) {
    this.token = token;
  }

  /** {@code token} itself (printable ASCII, no spaces). */
  public static BearerToken of(String token) {
    if (!isWellFormed(token)) {
      throw new SecurityConfigException("a bearer token must be printable ASCII without spaces, and not empty");
    }
    return new BearerToken(token);
  }

  /**
   * The token of {@code tokenFile} when it is given, else of {@code SHARDOPT_TOKEN} in {@code environment}
   * when it is set and not empty, else null (no token sent).
   */
  public static BearerToken resolve(Path tokenFile, Map<String, String> environment) {
    if (tokenFile != null) {
      return fromFile(tokenFile);
    }
    String value = environment.get(ENVIRONMENT_VARIABLE);
    if (value == null || value.isBlank()) {
      return null;
    }
    if (!isWellFormed(value.strip())) {
      throw new SecurityConfigException(ENVIRONMENT_VARIABLE + ": the token must be printable ASCII without spaces");
    }
    return new BearerToken(value.strip());
  }

  /** The first line of {@code file}, trimmed. */
  public static BearerToken fromFile(Path file) {
    List<String> lines;
    try {
      lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new SecurityConfigException("--token-file " + file + ": cannot read it (" + e.getClass().getSimpleName()
          + (e.getMessage() == null ? "" : ": " + e.getMessage()) + ")", e);
    }
    String first = lines.isEmpty() ? "" : lines.get(0).strip();
    if (first.isEmpty()) {
      throw new SecurityConfigException("--token-file " + file + ": the first line is empty (it must hold the token)");
    }
    if (!isWellFormed(first)) {
      throw new SecurityConfigException("--token-file " + file + ": the token must be printable ASCII without spaces");
    }
    return new BearerToken(first);
  }

  /** Printable ASCII (0x21-0x7e), at least one character: what fits a header value and a tokens file field. */
  static boolean isWellFormed(String token) {
    return token != null && !token.isEmpty() && token.chars().allMatch(c -> c >= 0x21 && c <= 0x7e);
  }

  /** Adds {@code authorization: Bearer <token>} to every call of a channel. */
  public ClientInterceptor interceptor() {
    Metadata headers = new Metadata();
    headers.put(AUTHORIZATION, "Bearer " + token);
    return MetadataUtils.newAttachHeadersInterceptor(headers);
  }

  @Override
  public String toString() {
    return "BearerToken[hidden]";
  }
}
