package dev.shardopt.embedded;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.shardopt.client.ClientOptions;
import dev.shardopt.client.ModelOptions;
import dev.shardopt.client.RemoteModel;
import dev.shardopt.client.ShardoptCluster;
import dev.shardopt.client.ShardoptException;
import dev.shardopt.client.Tensors;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.rpc.security.AuthTokens;
import dev.shardopt.rpc.security.BearerToken;
import dev.shardopt.rpc.security.GrpcSecurity;
import dev.shardopt.rpc.security.TestCertificates;
import dev.shardopt.rpc.security.TlsFiles;
import io.grpc.Status;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A cluster with mutual TLS and bearer tokens on every connection (trainer to coordinator and
 * workers, coordinator to workers, workers to coordinator) trains bitwise as a plaintext one; callers
 * outside their role, without a certificate or with a plaintext channel are refused.
 */
class SecureClusterTest {
  static final String TRAINER = "trainer-3f9a0c1d2b4e5f67";
  static final String ADMIN = "admin-8e7d6c5b4a39281706";
  static final String WORKER = "worker-1029384756abcdef";
  static final String[] NAMES = {"w", "b"};
  static final long[][] SHAPES = {{8, 33}, {33}};

  @TempDir Path dir;

  @Test
  void aMutualTlsClusterWithTokensTrainsBitwiseAsAPlaintextOne() throws Exception {
    TestCertificates.Authority ca = TestCertificates.authority(dir, "cluster");
    TlsFiles node = ca.issue(dir, "node");
    TlsFiles admin = ca.issue(dir, "admin-client");
    TlsFiles trainer = ca.issue(dir, "trainer-client");
    AuthTokens tokens = AuthTokens.parse("test", List.of("trainer " + TRAINER, "admin " + ADMIN, "worker " + WORKER));
    var grads = SyncTrainingRun.gaussianGradients(11, 5, 2, NAMES, SHAPES, s -> 0.5);
    Pipeline pipeline = Pipeline.parse("adam(1e-2).clipNorm(1.0)");

    List<Map<String, float[]>> plain;
    try (ShardoptCluster c = ShardoptLocal.start(2)) {
      plain = SyncTrainingRun.train(c.createModel(options(pipeline)), grads);
    }

    try (GrpcSecurity nodes = GrpcSecurity.builder().tls(node).authTokens(tokens).token(BearerToken.of(WORKER)).build();
        EmbeddedCluster cluster = EmbeddedCluster.builder().workers(2).security(nodes).start();
        ShardoptCluster operator = new ShardoptCluster(cluster.coordinatorAddress(),
            ClientOptions.defaults().tls(ca.certFile(), admin.cert(), admin.key()).token(ADMIN), null);
        ShardoptCluster trainers = new ShardoptCluster(cluster.coordinatorAddress(),
            ClientOptions.defaults().tls(ca.certFile(), trainer.cert(), trainer.key()).token(TRAINER), null)) {
      operator.createModel(options(pipeline));
      RemoteModel model = trainers.model("m");
      List<Map<String, float[]>> secure = SyncTrainingRun.train(model, grads);
      for (int s = 0; s < plain.size(); s++) {
        for (String name : NAMES) {
          float[] a = plain.get(s).get(name);
          float[] b = secure.get(s).get(name);
          assertThat(b).hasSameSizeAs(a);
          for (int i = 0; i < a.length; i++) {
            assertThat(Float.floatToRawIntBits(b[i])).as("step %d %s[%d]", s + 1, name, i)
                .isEqualTo(Float.floatToRawIntBits(a[i]));
          }
        }
      }
      assertThat(model.describe().getStep()).isEqualTo(5);

      // a trainer's token cannot delete the model
      assertThatThrownBy(model::delete)
          .isInstanceOfSatisfying(ShardoptException.class, e -> {
            assertThat(e.code()).isEqualTo(Status.Code.PERMISSION_DENIED);
            assertThat(e.serverMessage()).isEqualTo("shardopt.v1.Coordinator/DeleteModel needs role admin; the token's role"
                + " is trainer");
          });
      // the right certificate without a token
      try (ShardoptCluster anonymous = new ShardoptCluster(cluster.coordinatorAddress(),
          ClientOptions.defaults().tls(ca.certFile(), trainer.cert(), trainer.key()), null)) {
        assertThatThrownBy(() -> anonymous.model("m"))
            .isInstanceOfSatisfying(ShardoptException.class, e -> {
              assertThat(e.code()).isEqualTo(Status.Code.UNAUTHENTICATED);
              assertThat(e.serverMessage()).startsWith("shardopt.v1.Coordinator/GetModel: no bearer token");
            });
      }
      // the right token without TLS
      try (ShardoptCluster plaintext = new ShardoptCluster(cluster.coordinatorAddress(),
          ClientOptions.defaults().token(ADMIN).rpcDeadline(java.time.Duration.ofSeconds(3)), null)) {
        assertThatThrownBy(() -> plaintext.model("m"))
            .isInstanceOfSatisfying(ShardoptException.class, e -> {
              assertThat(e.code()).isEqualTo(Status.Code.UNAVAILABLE);
              assertThat(e.getMessage()).contains("if it serves TLS, give this client --tls-ca");
            });
      }
      // TLS without a client certificate: the servers require one
      try (ShardoptCluster noCert = new ShardoptCluster(cluster.coordinatorAddress(),
          ClientOptions.defaults().tls(ca.certFile(), null, null).token(ADMIN).rpcDeadline(java.time.Duration.ofSeconds(3)),
          null)) {
        assertThatThrownBy(() -> noCert.model("m"))
            .isInstanceOfSatisfying(ShardoptException.class, e -> assertThat(e.code()).isEqualTo(Status.Code.UNAVAILABLE));
      }
      assertThat(model.pull(5).get("w")).isEqualTo(plain.get(4).get("w")); // still there, still serving
    }
  }

  private static ModelOptions options(Pipeline pipeline) {
    return ModelOptions.named("m").pipeline(pipeline).trainers(2)
        .tensors(Tensors.of(NAMES[0], SHAPES[0]), Tensors.of(NAMES[1], SHAPES[1]));
  }
}
