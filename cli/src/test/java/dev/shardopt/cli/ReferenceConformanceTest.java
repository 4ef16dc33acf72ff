package dev.shardopt.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.cli.io.TensorFiles;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.engine.kernel.ParallelApply;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Path;
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
 * step against {@code |got - expected| <= 2e-6 + 2e-5 |expected|} ({@link ReferenceCase#assertMatches}).
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
    return ReferenceCase.root();
  }

  static Stream<Path> cases() throws IOException, URISyntaxException {
    return ReferenceCase.dirs();
  }

  static Path file(Path dir, String stem) throws IOException {
    return ReferenceCase.load(dir).file(stem);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void matchesLibtorch(Path dir) throws Exception {
    ReferenceCase c = ReferenceCase.load(dir);
    Replay.Result result = Replay.run(Pipeline.parse(c.pipeline()), TensorFiles.read(c.file("init")),
        TensorFiles.read(c.file("grads")), c.trainers(), new ParallelApply(pool, 2, 1));
    assertThat(result.updatesApplied()).isEqualTo(c.updatesApplied());
    assertThat(result.stepsSkipped()).isEqualTo(c.stepsSkipped());
    c.assertMatches(result.trajectory());
  }
}
