package dev.shardopt.rpc.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokensTest {
  @TempDir Path dir;

  @Test
  void aTokensFileGivesEachTokenItsRole() throws Exception {
    Path f = dir.resolve("tokens");
    Files.writeString(f, "# cluster tokens\n\ntrainer t-111\n  admin   a-222  \nworker w-333\n");
    AuthTokens tokens = AuthTokens.load(f);
    assertThat(tokens.size()).isEqualTo(3);
    assertThat(tokens.roleOf("t-111")).contains(Role.TRAINER);
    assertThat(tokens.roleOf("a-222")).contains(Role.ADMIN);
    assertThat(tokens.roleOf("w-333")).contains(Role.WORKER);
    assertThat(tokens.roleOf("t-11")).isEmpty();
    assertThat(tokens.roleOf("")).isEmpty();
    assertThat(tokens.toString()).isEqualTo("AuthTokens[3 tokens]");
  }

  @Test
  void aBadLineIsNamedWithItsProblemAndNeverItsToken() {
    assertThatThrownBy(() -> AuthTokens.parse("--auth-tokens f", List.of("trainer ok-1", "trainr secret-2")))
        .isInstanceOf(SecurityConfigException.class)
        .hasMessage("--auth-tokens f line 2: unknown role 'trainr' (allowed: trainer, admin, worker)");
    assertThatThrownBy(() -> AuthTokens.parse("--auth-tokens f", List.of("", "admin secret-3 extra")))
        .hasMessage("--auth-tokens f line 2: expected 'ROLE TOKEN' (two fields), got 3 fields");
    assertThatThrownBy(() -> AuthTokens.parse("--auth-tokens f", List.of("admin")))
        .hasMessage("--auth-tokens f line 1: expected 'ROLE TOKEN' (two fields), got 1 fields");
    assertThatThrownBy(() -> AuthTokens.parse("--auth-tokens f", List.of("admin secret-4", "# x", "worker secret-4")))
        .hasMessage("--auth-tokens f line 3: the same token as line 1 (each token has one role)")
        .message().doesNotContain("secret-4");
    assertThatThrownBy(() -> AuthTokens.parse("--auth-tokens f", List.of("# only comments", "")))
        .hasMessage("--auth-tokens f: no tokens (one 'ROLE TOKEN' per line, roles: trainer, admin, worker)");
    assertThatThrownBy(() -> AuthTokens.load(dir.resolve("missing")))
        .hasMessageStartingWith("--auth-tokens " + dir.resolve("missing") + ": cannot read it (NoSuchFileException");
  }

  @Test
  void aClientReadsItsTokenFromTheFileFirstThenTheEnvironment() throws Exception {
    Path f = dir.resolve("token");
    Files.writeString(f, "  from-file-1  \nsecond line ignored\n");
    Map<String, String> env = Map.of("SHARDOPT_TOKEN", "from-env-2");
    assertThat(header(BearerToken.resolve(f, env))).isEqualTo("Bearer from-file-1");
    assertThat(header(BearerToken.resolve(null, env))).isEqualTo("Bearer from-env-2");
    assertThat(BearerToken.resolve(null, Map.of())).isNull();
    assertThat(BearerToken.resolve(null, Map.of("SHARDOPT_TOKEN", " "))).isNull();
    assertThat(BearerToken.resolve(f, env).toString()).isEqualTo("BearerToken[hidden]");
    Files.writeString(f, "\nsecret-on-line-2\n");
    assertThatThrownBy(() -> BearerToken.resolve(f, env)).isInstanceOf(SecurityConfigException.class)
        .hasMessage("--token-file " + f + ": the first line is empty (it must hold the token)");
    Files.writeString(f, "two words\n");
    assertThatThrownBy(() -> BearerToken.fromFile(f))
        .hasMessage("--token-file " + f + ": the token must be printable ASCII without spaces");
  }

  /** The header value the token's interceptor attaches, read back through a real call's metadata. */
  private static String header(BearerToken token) throws Exception {
    io.grpc.Metadata seen = new io.grpc.Metadata();
    io.grpc.Server server = io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder.forPort(0)
        .addService(io.grpc.ServerInterceptors.intercept(Echo.service(), new io.grpc.ServerInterceptor() {
          @Override
          public <Q, A> io.grpc.ServerCall.Listener<Q> interceptCall(io.grpc.ServerCall<Q, A> call, io.grpc.Metadata headers,
              io.grpc.ServerCallHandler<Q, A> next) {
            seen.merge(headers);
            return next.startCall(call, headers);
          }
        })).build().start();
    try (GrpcSecurity client = GrpcSecurity.builder().token(token).build()) {
      io.grpc.ManagedChannel c = client.channel("127.0.0.1:" + server.getPort()).build();
      Echo.call(c, new byte[] {1});
      c.shutdownNow();
      return seen.get(BearerToken.AUTHORIZATION);
    } finally {
      server.shutdownNow();
    }
  }
}
