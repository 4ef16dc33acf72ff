package dev.shardopt.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.shardopt.dsl.Pipeline;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainerStateTest {
  @TempDir Path dir;

  private static TrainerState state() {
    BatchNormStatistics a = new BatchNormStatistics(3);
    a.update(new double[] {0.1, Math.PI, -1e-300}, new double[] {1.0 / 3, 2, Double.MIN_VALUE}, 5);
    BatchNormStatistics b = new BatchNormStatistics(3);
    return new TrainerState(2, 2, 8, 3, 42, 0.2, "sgd(0.1)", List.of(a, b),
        new double[][] {{0.7, 0.1 + 0.2}, {1e-17, 2.5}}, new long[] {0}, new double[] {0.1234});
  }

  @Test
  void readsBackBitwiseWhatItWrote() throws Exception {
    TrainerState s = state();
    Path f = TrainerState.file(dir, 2);
    s.write(f);
    assertThat(f).isEqualTo(dir.resolve("trainer-state/step-0000000002.txt"));
    TrainerState r = TrainerState.read(f);
    assertThat(r.step()).isEqualTo(2);
    for (int i = 0; i < 2; i++) {
      assertThat(r.statistics().get(i).mean()).isEqualTo(s.statistics().get(i).mean());
      assertThat(r.statistics().get(i).variance()).isEqualTo(s.statistics().get(i).variance());
      assertThat(r.statistics().get(i).updates()).isEqualTo(s.statistics().get(i).updates());
    }
    assertThat(r.losses()).isDeepEqualTo(s.losses());
    assertThat(r.evalAccuracy()).isEqualTo(s.evalAccuracy());
    r.write(dir.resolve("again.txt"));
    assertThat(Files.readAllBytes(dir.resolve("again.txt"))).isEqualTo(Files.readAllBytes(f));
    assertThat(Files.list(f.getParent()).map(p -> p.getFileName().toString()).toList()).containsExactly(
        "step-0000000002.txt"); // no temporary file left
  }

  @Test
  void aDamagedFileIsRefused() throws Exception {
    Path f = dir.resolve("s.txt");
    state().write(f);
    byte[] bytes = Files.readAllBytes(f);
    bytes[40] ^= 1;
    Files.write(f, bytes);
    assertThatThrownBy(() -> TrainerState.read(f)).isInstanceOf(IOException.class).hasMessageContaining("checksum");
  }

  @Test
  void namesWhatDiffersFromTheRun() {
    TrainingConfig c = new TrainingConfig(Pipeline.parse("sgd(0.1)"), 2, 10, 8, 42, 3, 1, 0.2);
    assertThat(state().mismatch(c)).isEmpty();
    assertThat(state().mismatch(c.withHidden(4)).orElseThrow()).isEqualTo("it has --hidden 3, this run 4");
    assertThat(state().mismatch(c.withSteps(1)).orElseThrow()).isEqualTo("--steps 1 ends before its step 2");
  }
}
