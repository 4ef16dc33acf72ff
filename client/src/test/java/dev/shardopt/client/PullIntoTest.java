package dev.shardopt.client;

import static dev.shardopt.client.Initializers.normal;
import static dev.shardopt.dsl.Optimizers.sgd;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Pulls into the caller's arrays (Trainer.pullInto, RemoteModel.pullParametersInto) against the fake cluster. */
class PullIntoTest {
  private FakeCluster fake;
  private ShardoptCluster cluster;
  private Map<String, float[]> params;

  @BeforeEach
  void start() throws Exception {
    fake = new FakeCluster();
    cluster = new ShardoptCluster(fake.coordinatorAddress(),
        ClientOptions.defaults().chunkBytes(4000).retryBackoff(Duration.ofMillis(10))
            .rpcDeadline(Duration.ofSeconds(20)).readyTimeout(Duration.ofSeconds(10)),
        () -> { });
    params = Fixtures.values(0.75f);
    params.get("w")[5] = -0.0f; // bitwise: the sign of zero and a NaN's payload survive
    params.get("w")[9000] = Float.intBitsToFloat(0x7fc00123);
    params.get("c")[6] = Float.MIN_VALUE;
    fake.a.params.putAll(params);
    fake.b.params.putAll(params);
  }

  @AfterEach
  void stop() throws Exception {
    cluster.close();
    fake.close();
  }

  private RemoteModel model() {
    return cluster.createModel("m", sgd(0.1),
        Tensors.of("w", 96, 128).init(normal(0.05, 42)), Tensors.of("b", 100), Tensors.of("c", 7));
  }

  /** Arrays of the model's sizes, filled with a value no pull returns. */
  private static Map<String, float[]> arrays(int w, int b, int c) {
    Map<String, float[]> out = new LinkedHashMap<>();
    out.put("w", new float[w]);
    out.put("b", new float[b]);
    out.put("c", new float[c]);
    out.values().forEach(a -> Arrays.fill(a, 12345.5f));
    return out;
  }

  private static void assertBitwise(Map<String, float[]> actual, Map<String, float[]> expected) {
    assertThat(actual.keySet()).containsExactlyElementsOf(expected.keySet());
    for (String t : expected.keySet()) {
      float[] a = actual.get(t);
      float[] e = expected.get(t);
      assertThat(a).hasSize(e.length);
      for (int i = 0; i < e.length; i++) {
        assertThat(Float.floatToRawIntBits(a[i])).as("%s[%d]", t, i).isEqualTo(Float.floatToRawIntBits(e[i]));
      }
    }
  }

  @Test
  void pullsIntoTheCallersArraysBitwiseAsPullParameters() {
    RemoteModel m = model();
    Trainer trainer = m.trainer(0, 1);
    PulledParameters fresh = trainer.pullParameters();
    assertBitwise(fresh.tensors(), params);

    Map<String, float[]> into = arrays(96 * 128, 100, 7);
    float[] w = into.get("w");
    PulledParameters p = trainer.pullInto(into);
    assertThat(p.step()).isEqualTo(fresh.step());
    assertThat(p.get("w")).as("the caller's own array").isSameAs(w);
    assertBitwise(into, fresh.tensors());
    assertThat(fake.a.pulls.get(1).getMinStep()).isZero(); // the trainer's next step, as pull() asks

    // again, at a later version, into the same arrays: every element overwritten
    params.get("b")[3] = -7f;
    fake.b.params.putAll(params);
    PulledParameters again = m.pullParametersInto(0, into);
    assertThat(again.get("w")).isSameAs(w);
    assertBitwise(into, params);
    assertThat(cluster.workerCalls().wireBuffersHeld()).isZero();
  }

  @Test
  void wrongArraysAreRefusedBeforeAnyCallNamingTheTensorTheLengthAndTheExpectedOne() {
    RemoteModel m = model();
    Trainer trainer = m.trainer(0, 1);
    Map<String, float[]> shortW = arrays(96 * 128 - 1, 100, 7);
    assertThatThrownBy(() -> trainer.pullInto(shortW)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'w'").hasMessageContaining("has 12287 elements, expected 12288");
    Map<String, float[]> missing = arrays(96 * 128, 100, 7);
    missing.remove("b");
    assertThatThrownBy(() -> m.pullParametersInto(0, missing)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("no array to pull tensor 'b'").hasMessageContaining("expected 100 elements");
    Map<String, float[]> extra = arrays(96 * 128, 100, 7);
    extra.put("z", new float[3]);
    assertThatThrownBy(() -> m.pullParametersInto(0, extra)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("tensor 'z' (3 elements)").hasMessageContaining("its tensors are [w, b, c]");
    assertThatThrownBy(() -> m.pullParametersInto(0, null)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("must not be null");
    assertThatThrownBy(() -> m.pullParametersInto(-1, arrays(96 * 128, 100, 7)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("minStep must be >= 0, got -1");
    assertThat(fake.a.pulls).as("no pull was sent").isEmpty();
    assertThat(fake.b.pulls).isEmpty();
  }

  @Test
  void aPullThatFailsMidwayThrowsAndTheNextPullIntoTheSameArraysIsWhole() {
    RemoteModel m = model();
    Map<String, float[]> into = arrays(96 * 128, 100, 7);
    fake.b.failPullAfterChunks = 2;
    assertThatThrownBy(() -> m.pullParametersInto(0, into)).isInstanceOf(ShardoptException.class)
        .hasMessageContaining("the worker broke mid-stream");
    // the arrays' contents are unspecified now (documented); a pull that succeeds makes them whole
    fake.b.failPullAfterChunks = -1;
    m.pullParametersInto(0, into);
    assertBitwise(into, params);
    assertThat(cluster.workerCalls().wireBuffersHeld()).isZero();
  }
}
