package dev.shardopt.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.cli.io.TensorFiles;
import dev.shardopt.client.Shardopt;
import dev.shardopt.client.ShardoptCluster;
import dev.shardopt.coordinator.CoordinatorConfig;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.embedded.EmbeddedCluster;
import dev.shardopt.embedded.OpenClHere;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@code shardopt replay --device opencl}, on this build's opencl backend (PoCL in CI): every
 * reference case within libtorch's tolerance, and every output file byte for byte the file of
 * {@code --device cpu}, in process and through clusters of opencl workers.
 */
class OpenClReplayTest {
  @TempDir Path dir;

  @BeforeAll
  static void needsOpenCl() {
    OpenClHere.deviceName();
  }

  static Stream<Path> cases() throws Exception {
    return ReferenceCase.dirs();
  }

  private static List<String> replayArgs(ReferenceCase c, Path out, String... extra) {
    List<String> args = new ArrayList<>(List.of("replay", "--pipeline", c.pipeline(),
        "--params", c.file("init").toString(), "--grads", c.file("grads").toString(),
        "--trainers", Integer.toString(c.trainers()), "--out", out.toString(), "--threads", "1"));
    args.addAll(List.of(extra));
    return args;
  }

  /** Runs replay, which must succeed and report the case's counts, and returns the bytes it wrote. */
  private static byte[] replay(ReferenceCase c, Path out, String... extra) throws Exception {
    ReplayCommandTest.Run r = ReplayCommandTest.run(replayArgs(c, out, extra).toArray(String[]::new));
    assertThat(r.status()).as("%s %s: %s", c.name(), List.of(extra), r.err()).isZero();
    assertThat(r.err()).as("%s %s", c.name(), List.of(extra)).isEmpty();
    assertThat(r.out()).isEqualTo("replayed %d pushes of %s: %d updates applied, %d skipped -> %s%n", c.steps(),
        Pipeline.parse(c.pipeline()), c.updatesApplied(), c.stepsSkipped(), out);
    return Files.readAllBytes(out);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void inProcessMatchesLibtorchAndWritesTheBytesOfCpu(Path caseDir) throws Exception {
    ReferenceCase c = ReferenceCase.load(caseDir);
    Path cpu = dir.resolve("cpu" + c.extension());
    Path opencl = dir.resolve("opencl" + c.extension());
    byte[] cpuBytes = replay(c, cpu, "--device", "cpu");
    byte[] openclBytes = replay(c, opencl, "--device", "opencl");
    c.assertMatches(TensorFiles.read(opencl));
    assertThat(openclBytes).as(c.name()).isEqualTo(cpuBytes);
  }

  /**
   * Every case through one cluster of three opencl workers with 1-block shards (so the cases of
   * several tensors spread over the workers), as replay --workers runs them, against the cpu replay.
   */
  @Test
  void everyCaseThroughAnOpenClClusterWritesTheBytesOfCpu() throws Exception {
    List<Path> cases = cases().toList();
    assertThat(cases).hasSize(32);
    EmbeddedCluster.Builder opencl = EmbeddedCluster.builder().workers(3).device("opencl")
        .worker((i, w) -> w.withThreads(1)).coordinator(CoordinatorConfig.defaults().withMaxShardBlocks(1));
    List<String> compared = new ArrayList<>();
    try (EmbeddedCluster servers = opencl.start(); ShardoptCluster cluster = Shardopt.connect(servers.coordinatorAddress())) {
      assertThat(servers.workers()).extracting(w -> w.device().kind()).containsExactly("opencl", "opencl", "opencl");
      for (Path caseDir : cases) {
        ReferenceCase c = ReferenceCase.load(caseDir);
        Path cpu = dir.resolve(c.name() + "-cpu" + c.extension());
        Path out = dir.resolve(c.name() + "-opencl-cluster" + c.extension());
        byte[] cpuBytes = replay(c, cpu, "--device", "cpu");
        Replay.Result r = Replay.runOnCluster(cluster, "case", Pipeline.parse(c.pipeline()),
            TensorFiles.read(c.file("init")), TensorFiles.read(c.file("grads")), c.trainers());
        assertThat(r.updatesApplied()).as(c.name()).isEqualTo(c.updatesApplied());
        assertThat(r.stepsSkipped()).as(c.name()).isEqualTo(c.stepsSkipped());
        TensorFiles.write(out, r.trajectory());
        assertThat(Files.readAllBytes(out)).as(c.name()).isEqualTo(cpuBytes);
        compared.add(c.name());
      }
    }
    assertThat(compared).hasSize(32);
  }

  /** The command's own cluster path: replay --workers 2 --device opencl. */
  @Test
  void theReplayCommandsClusterOnOpenClWritesTheBytesOfCpu() throws Exception {
    for (String name : List.of("p29_npz_momentum_freeze_lrScale_clipNorm", "p30_trainers3_adam")) {
      ReferenceCase c = ReferenceCase.load(ReferenceCase.root().resolve(name));
      byte[] cpu = replay(c, dir.resolve(name + "-cpu" + c.extension()), "--device", "cpu");
      Path out = dir.resolve(name + "-opencl" + c.extension());
      assertThat(replay(c, out, "--device", "opencl", "--workers", "2", "--shard-blocks", "1")).as(name).isEqualTo(cpu);
      c.assertMatches(TensorFiles.read(out));
    }
  }
}
