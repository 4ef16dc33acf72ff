package dev.shardopt.embedded;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.shardopt.client.PipelineCheck;
import dev.shardopt.client.RemoteModel;
import dev.shardopt.client.ShardoptCluster;
import dev.shardopt.client.Tensors;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.v1.CoordinatorGrpc;
import dev.shardopt.v1.CreateModelRequest;
import dev.shardopt.v1.Model;
import dev.shardopt.v1.TensorSpec;
import dev.shardopt.v1.UpdatePipelineRequest;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The DSL text on the wire, end to end on a real coordinator and workers: the Java client's
 * {@code parsePipeline}, and a model created and changed by text alone (as a client in another
 * language does) training bit for bit as one created and changed by message.
 */
class PipelineTextClientTest {
  private static final int N = 20_000; // three reduction blocks: both workers hold shards
  private static final String START = "adam(0.01).warmup(3).clipNorm(0.5)";
  private static final String CHANGED = "adam(0.005).warmup(3).clipNorm(0.5)";

  @Test
  void parsePipelineAnswersTheCanonicalFormOrTheErrorsWithTheirColumn() {
    try (ShardoptCluster c = ShardoptLocal.start(1)) {
      PipelineCheck ok = c.parsePipeline("adam(1e-2) . beta2(0.98).noDecay(\"*.bias\")");
      assertThat(ok.valid()).isTrue();
      assertThat(ok.canonicalText()).isEqualTo("adam(0.01).beta2(0.98).noDecay(\"*.bias\")");
      assertThat(ok.message().getAdam().getLr()).isEqualTo(0.01);
      assertThat(ok.message().getAdam().getBeta2()).isEqualTo(0.98);
      assertThat(ok.pipeline().toString()).isEqualTo(ok.canonicalText());

      PipelineCheck typo = c.parsePipeline("adam(1e-3).warmup(500).cosin(1e5)");
      assertThat(typo.valid()).isFalse();
      assertThat(typo.errors()).containsExactly(new PipelineCheck.Error("pipeline_text",
          "unknown method 'cosin' at column 24 — did you mean 'cosine'?", 24));
      assertThat(typo.canonicalText()).isEmpty();
      assertThatThrownBy(typo::pipeline).isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("did you mean 'cosine'?");

      PipelineCheck names = c.parsePipeline("sgd().lrScale(\"a.*\", 0.5).lrScale(\"*.w\", 2.0)", List.of("a.b", "a.w"));
      assertThat(names.errors()).extracting(PipelineCheck.Error::field).containsExactly("tensor_names[1]");
      assertThat(c.listModels()).isEmpty();
    }
  }

  @Test
  void aModelCreatedAndChangedByTextTrainsBitwiseAsOneByMessage() throws Exception {
    try (ShardoptCluster c = ShardoptLocal.start(2)) {
      ManagedChannel channel = NettyChannelBuilder.forTarget(c.target()).usePlaintext().build();
      try {
        CoordinatorGrpc.CoordinatorBlockingStub coordinator = CoordinatorGrpc.newBlockingStub(channel)
            .withDeadlineAfter(30, TimeUnit.SECONDS);
        coordinator.createModel(CreateModelRequest.newBuilder().setModelId("by-text").setModel(Model.newBuilder()
            .setPipelineText(START).addTensors(TensorSpec.newBuilder().setName("w").addShape(N))).build());
        RemoteModel byText = c.model("by-text");
        RemoteModel byMessage = c.createModel("by-message", Pipeline.parse(START), Tensors.of("w", N));
        assertThat(byText.describe().getPipeline()).isEqualTo(byMessage.describe().getPipeline());

        for (int step = 0; step < 6; step++) {
          if (step == 1) { // deciding step s fixes the schedule through s + 1: change at 3 before step 2 is decided
            coordinator.updatePipeline(UpdatePipelineRequest.newBuilder().setName("models/by-text")
                .setPipelineText(CHANGED).setAtStep(3).build());
            byMessage.updatePipeline(Pipeline.parse(CHANGED), 3);
          }
          Map<String, float[]> g = Map.of("w", gradient(step));
          byText.trainer(0, 1).push(step, g);
          byMessage.trainer(0, 1).push(step, g);
        }
        float[] a = byText.pull(6).get("w");
        float[] b = byMessage.pull(6).get("w");
        assertThat(a).isNotEqualTo(new float[N]); // it trained
        for (int i = 0; i < N; i++) {
          assertThat(Float.floatToRawIntBits(a[i])).as("w[%d]", i).isEqualTo(Float.floatToRawIntBits(b[i]));
        }
        assertThat(byText.describe().getPipelineText()).isEqualTo("adam(5e-3).warmup(3).clipNorm(0.5)"); // the shorter number form
      } finally {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    }
  }

  /** A gradient that differs per element and step, with a norm well above the clip. */
  private static float[] gradient(int step) {
    float[] g = new float[N];
    for (int i = 0; i < N; i++) {
      g[i] = (float) Math.sin(0.37 * i + 1.3 * step);
    }
    return g;
  }
}
