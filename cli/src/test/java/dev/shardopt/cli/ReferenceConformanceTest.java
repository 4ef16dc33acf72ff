package dev.shardopt.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.cli.io.Tensor;
import dev.shardopt.cli.io.TensorFiles;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.engine.kernel.ParallelApply;
import java.io.IOException;
import java.io.Reader;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Replays every libtorch 2.10 reference case (copied from shared/reference into the test
 * resources) through the same path as {@code shardopt replay}, and checks every element of every
 * step against {@code |got - expected| <= 2e-6 + 2e-5 |expected|}.
 */
class ReferenceConformanceTest {
  private static ExecutorService pool;

  @BeforeAll
  static void startPool() {
    pool = Executors.newFixedThreadPool(1);
  }

  @AfterAll
  static void stopPool() {
    pool.shutdownNow();
  }

  static Path referenceRoot() throws URISyntaxException {
    return Path.of(ReferenceConformanceTest.class.getResource("/reference/README.md").toURI()).getParent();
  }

  static Stream<Path> cases() throws IOException, URISyntaxException {
    try (Stream<Path> s = Files.list(referenceRoot())) {
      return s.filter(Files::isDirectory).sorted().toList().stream();
    }
  }

  static Path file(Path dir, String stem) {
    Path npy = dir.resolve(stem + ".npy");
    return Files.exists(npy) ? npy : dir.resolve(stem + ".npz");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void matchesLibtorch(Path dir) throws Exception {
    Properties props = new Properties();
    try (Reader r = Files.newBufferedReader(dir.resolve("case.properties"))) {
      props.load(r);
    }
    Pipeline pipeline = Pipeline.parse(Files.readString(dir.resolve("pipeline.txt")).strip());
    int trainers = Integer.parseInt(props.getProperty("trainers"));
    Map<String, Tensor> expected = TensorFiles.read(file(dir, "expected"));

    Replay.Result result =
        Replay.run(
            pipeline,
            TensorFiles.read(file(dir, "init")),
            TensorFiles.read(file(dir, "grads")),
            trainers,
            new ParallelApply(pool, 2, 1));

    assertThat(result.trajectory().keySet()).containsExactlyInAnyOrderElementsOf(expected.keySet());
    assertThat(result.updatesApplied()).isEqualTo(Long.parseLong(props.getProperty("updatesApplied")));
    assertThat(result.stepsSkipped()).isEqualTo(Long.parseLong(props.getProperty("stepsSkipped")));
    int steps = Integer.parseInt(props.getProperty("steps"));
    for (Map.Entry<String, Tensor> e : expected.entrySet()) {
      Tensor want = e.getValue();
      Tensor got = result.trajectory().get(e.getKey());
      assertThat(got.shape()).as("shape of %s", e.getKey()).isEqualTo(want.shape());
      assertThat(want.dim(0)).isEqualTo(steps);
      float[] w = want.data();
      float[] g = got.data();
      int perStep = w.length / steps;
      for (int i = 0; i < w.length; i++) {
        double tol = 2e-6 + 2e-5 * Math.abs(w[i]);
        if (!(Math.abs((double) g[i] - w[i]) <= tol)) {
          throw new AssertionError(String.format(
              "%s: tensor %s, push %d, element %d: got %s, expected %s (|diff| %.3g > tol %.3g)",
              dir.getFileName(), e.getKey(), i / perStep, i % perStep, g[i], w[i],
              Math.abs((double) g[i] - w[i]), tol));
        }
      }
    }
  }
}
