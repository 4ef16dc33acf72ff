package dev.shardopt.rpc.security;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The tokens a server accepts, with their roles, from {@code --auth-tokens FILE}: one {@code ROLE TOKEN}
 * per line (blank lines and lines starting with {@code #} are skipped).
 *
 * <p>Only SHA-256 digests of the tokens are kept. {@link #roleOf} compares the digest of the presented
 * token with every entry by {@link MessageDigest#isEqual} (constant time for equal lengths, and digests
 * are all 32 bytes) and never stops early, so the time taken does not tell how close a guess was.
 */
public final class AuthTokens {
  private record Entry(byte[] digest, Role role) {}

  private final List<Entry> entries;

  private AuthTokens(List<Entry> entries) {
    this.entries = List.copyOf(entries);
  }

  /** Reads {@code file}; a bad file is a SecurityConfigException naming the file, the line and the problem. */
  public static AuthTokens load(Path file) {
    List<String> lines;
    try {
      lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new SecurityConfigException("--auth-tokens " + file + ": cannot read it (" + e.getClass().getSimpleName()
          + (e.getMessage() == null ? "" : ": " + e.getMessage()) + ")", e);
    }
    return parse("--auth-tokens " + file, lines);
  }

  /** The tokens of {@code lines}; {@code source} starts every error message. */
  public static AuthTokens parse(String source, List<String> lines) {
    List<Entry> entries = new ArrayList<>();
    List<Integer> lineOf = new ArrayList<>();
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i).strip();
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      int n = i + 1;
      String[] fields = line.split("\\s+");
      if (fields.length != 2) {
        throw new SecurityConfigException(source + " line " + n + ": expected 'ROLE TOKEN' (two fields), got "
            + fields.length + " fields");
      }
      Role role = Role.of(fields[0]).orElseThrow(() -> new SecurityConfigException(source + " line " + n
          + ": unknown role '" + fields[0] + "' (allowed: " + Role.labels() + ")"));
      if (!BearerToken.isWellFormed(fields[1])) {
        throw new SecurityConfigException(source + " line " + n + ": the token must be printable ASCII");
      }
      byte[] digest = digest(fields[1]);
      for (int j = 0; j < entries.size(); j++) {
        if (MessageDigest.isEqual(entries.get(j).digest(), digest)) {
          throw new SecurityConfigException(source + " line " + n + ": the same token as line " + lineOf.get(j)
              + " (each token has one role)");
        }
      }
      entries.add(new Entry(digest, role));
      lineOf.add(n);
    }
    if (entries.isEmpty()) {
      throw new SecurityConfigException(source + ": no tokens (one 'ROLE TOKEN' per line, roles: " + Role.labels() + ")");
    }
    return new AuthTokens(entries);
  }

  /** The role of {@code token}, compared with every entry in constant time; empty when unknown. */
  public Optional<Role> roleOf(String token) {
    byte[] presented = digest(token);
    Role found = null;
    for (Entry e : entries) {
      if (MessageDigest.isEqual(e.digest(), presented) & found == null) {
        found = e.role();
      }
    }
    return Optional.ofNullable(found);
  }

  public int size() {
    return entries.size();
  }

  static byte[] digest(String token) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JVM has SHA-256", e);
    }
  }

  @Override
  public String toString() {
    return "AuthTokens[" + entries.size() + " tokens]";
  }
}
