package dev.shardopt.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.cli.io.Tensor;
import dev.shardopt.cli.io.TensorFiles;
import java.io.IOException;
import java.io.Reader;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import java.util.stream.Stream;

/**
 * One libtorch 2.10 reference case of the test resources (see reference/README.md): its files, its
 * pipeline, and the check of a trajectory against it: every element of every push within
 * {@code |got - expected| <= 2e-6 + 2e-5 |expected|}.
 */
record ReferenceCase(Path dir, String pipeline, int trainers, int steps, long updatesApplied, long stepsSkipped) {

  static Path root() throws URISyntaxException {
    return Path.of(ReferenceCase.class.getResource("/reference/README.md").toURI()).getParent();
  }

  /** The case directories, sorted (p01 ... p32). */
  static Stream<Path> dirs() throws IOException, URISyntaxException {
    try (Stream<Path> s = Files.list(root())) {
      return s.filter(Files::isDirectory).sorted().toList().stream();
    }
  }

  static ReferenceCase load(Path dir) throws IOException {
    Properties props = new Properties();
    try (Reader r = Files.newBufferedReader(dir.resolve("case.properties"))) {
      props.load(r);
    }
    return new ReferenceCase(dir, Files.readString(dir.resolve("pipeline.txt")).strip(),
        Integer.parseInt(props.getProperty("trainers")), Integer.parseInt(props.getProperty("steps")),
        Long.parseLong(props.getProperty("updatesApplied")), Long.parseLong(props.getProperty("stepsSkipped")));
  }

  String name() {
    return dir.getFileName().toString();
  }

  /** init, grads or expected: the case's .npy, else its .npz. */
  Path file(String stem) {
    Path npy = dir.resolve(stem + ".npy");
    return Files.exists(npy) ? npy : dir.resolve(stem + ".npz");
  }

  /** The extension of the case's files, ".npy" or ".npz" (a replay's output of the same form). */
  String extension() {
    return file("expected").getFileName().toString().endsWith(".npy") ? ".npy" : ".npz";
  }

  /** Every element of every push of {@code got} within the tolerance of libtorch's. */
  void assertMatches(Map<String, Tensor> got) throws IOException {
    Map<String, Tensor> expected = TensorFiles.read(file("expected"));
    assertThat(got.keySet()).containsExactlyInAnyOrderElementsOf(expected.keySet());
    for (Map.Entry<String, Tensor> e : expected.entrySet()) {
      Tensor want = e.getValue();
      Tensor have = got.get(e.getKey());
      assertThat(have.shape()).as("shape of %s", e.getKey()).isEqualTo(want.shape());
      assertThat(want.dim(0)).isEqualTo(steps);
      float[] w = want.data();
      float[] g = have.data();
      int perStep = w.length / steps;
      for (int i = 0; i < w.length; i++) {
        double tol = 2e-6 + 2e-5 * Math.abs(w[i]);
        if (!(Math.abs((double) g[i] - w[i]) <= tol)) {
          throw new AssertionError(String.format(
              "%s: tensor %s, push %d, element %d: got %s, expected %s (|diff| %.3g > tol %.3g)",
              name(), e.getKey(), i / perStep, i % perStep, g[i], w[i], Math.abs((double) g[i] - w[i]), tol));
        }
      }
    }
  }
}
