package dev.shardopt.cli;

import dev.shardopt.rpc.security.AuthTokens;
import dev.shardopt.rpc.security.SecurityConfigException;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** {@code --auth-tokens FILE}: the bearer tokens a server accepts, with their roles. A mixin of coordinator and worker. */
public final class AuthOptions {
  @Option(names = "--auth-tokens", paramLabel = "FILE",
      description = "Require a bearer token on every call but health checks: FILE holds one 'ROLE TOKEN' per line, roles"
          + " trainer, admin and worker (see docs/security.md). Default: no checks.")
  Path file;

  /** The tokens, or null without --auth-tokens; a bad file is a user error naming its line. */
  public AuthTokens tokens() {
    if (file == null) {
      return null;
    }
    try {
      return AuthTokens.load(file);
    } catch (SecurityConfigException e) {
      throw new UserErrorException(e.getMessage(), e);
    }
  }
}
