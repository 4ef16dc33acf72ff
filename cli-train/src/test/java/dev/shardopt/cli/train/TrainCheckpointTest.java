package dev.shardopt.cli.train;

import static dev.shardopt.cli.train.TrainCommandTest.run;
import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.checkpoint.CheckpointReader;
import dev.shardopt.cli.ShardoptCli;
import dev.shardopt.cli.train.TrainCommandTest.Result;
import dev.shardopt.embedded.EmbeddedCluster;
import dev.shardopt.v1.CheckpointManifest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code shardopt train --checkpoint-dir/--checkpoint-every/--keep/--resume}: a resumed run ends bitwise
 * where the uninterrupted one ends, on another number of workers and after a whole-process kill -9.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class TrainCheckpointTest {
  private static final String[] RUN = {"train", "--batch", "32", "--hidden", "16", "--trainers", "2", "--seed", "7"};

  @TempDir Path dir;

  private Result train(String... more) {
    List<String> args = new ArrayList<>(List.of(RUN));
    args.addAll(List.of(more));
    args.addAll(List.of("--plot", dir.resolve("p" + System.nanoTime() + ".png").toString()));
    Result r = run(args.toArray(String[]::new));
    assertThat(r.status()).as("stdout: %s%nstderr: %s", r.out(), r.err()).isZero();
    return r;
  }

  @Test
  void resumingFromAMiddleCheckpointOnOtherWorkersEndsBitwiseWhereTheUninterruptedRunEnds() throws Exception {
    Path a = dir.resolve("a");
    Path b = dir.resolve("b");
    Result whole = train("--steps", "24", "--workers", "2", "--checkpoint-dir", a.toString(), "--checkpoint-every",
        "8", "--keep", "5");
    assertThat(steps(a)).containsExactly("step-0000000008", "step-0000000016", "step-0000000024");
    assertThat(whole.out()).contains("checkpoint step-0000000008: ");

    Result resumed = train("--steps", "24", "--workers", "3", "--resume", a.resolve("step-0000000008").toString(),
        "--checkpoint-dir", b.toString());
    assertThat(resumed.out()).contains("resuming from " + a.resolve("step-0000000008") + " at step 8");
    assertThat(steps(b)).containsExactly("step-0000000024"); // the final step always writes one
    assertSameCheckpoint(a, b, 24);
    assertThat(accuracyLine(resumed)).isEqualTo(accuracyLine(whole));
    assertThat(resumed.out()).contains(line(whole, "final train loss"));
  }

  @Test
  void resumingThroughACoordinatorEndsBitwiseWhereTheEmbeddedRunEnds() throws Exception {
    Path a = dir.resolve("a");
    Path b = dir.resolve("b");
    Result whole = train("--steps", "16", "--workers", "1", "--checkpoint-dir", a.toString(), "--checkpoint-every",
        "8");
    try (EmbeddedCluster cluster = EmbeddedCluster.start(3)) {
      Result resumed = train("--steps", "16", "--coordinator", cluster.coordinatorAddress(), "--resume",
          a.resolve("step-0000000008").toString(), "--checkpoint-dir", b.toString());
      assertThat(resumed.out()).contains("cluster: coordinator " + cluster.coordinatorAddress());
      assertSameCheckpoint(a, b, 16);
      assertThat(accuracyLine(resumed)).isEqualTo(accuracyLine(whole));
    }
  }

  @Test
  void keepsTheNewestKCheckpointsAndTheFinalOne() throws Exception {
    Path a = dir.resolve("a");
    train("--steps", "20", "--checkpoint-dir", a.toString(), "--checkpoint-every", "3", "--keep", "2");
    assertThat(steps(a)).containsExactly("step-0000000018", "step-0000000020");
    try (Stream<Path> s = Files.list(a.resolve("trainer-state"))) {
      assertThat(s.map(p -> p.getFileName().toString()).sorted())
          .containsExactly("step-0000000018.txt", "step-0000000020.txt");
    }
  }

  @Test
  void refusesACheckpointOfAnotherRunAndADirectoryInUse() {
    Path a = dir.resolve("a");
    train("--steps", "4", "--checkpoint-dir", a.toString());
    for (String[] args : List.of(
        new String[] {"--hidden", "17", "--steps", "8", "--resume", a.toString()},
        new String[] {"--pipeline", "sgd(0.1)", "--steps", "8", "--resume", a.toString()},
        new String[] {"--steps", "2", "--resume", a.toString()},
        new String[] {"--steps", "8", "--resume", dir.toString()},
        new String[] {"--steps", "8", "--checkpoint-dir", a.toString()},
        new String[] {"--steps", "8", "--keep", "2"})) {
      List<String> all = new ArrayList<>(List.of(RUN));
      all.addAll(List.of(args));
      Result r = run(all.toArray(String[]::new));
      assertThat(r.status()).as("%s: %s", List.of(args), r.out()).isEqualTo(ShardoptCli.EXIT_USER_ERROR);
      assertThat(r.err().lines().toList()).as(r.err()).hasSize(1);
    }
  }

  /** A real {@code kill -9} of the whole training process, then {@code --resume} in another. */
  @Test
  void aKilledRunResumesToTheUninterruptedRunsFinalCheckpoint() throws Exception {
    Path whole = dir.resolve("whole");
    Path d = dir.resolve("killed");
    String[] common = {"--steps", "300", "--checkpoint-every", "10", "--keep", "2"};
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx512m", "-cp", System.getProperty("java.class.path"), ShardoptCli.class.getName()));
    cmd.addAll(List.of(RUN));
    cmd.addAll(List.of(common));
    cmd.addAll(List.of("--checkpoint-dir", d.toString(), "--plot", dir.resolve("k.png").toString()));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
        .redirectOutput(dir.resolve("killed.log").toFile()).start();
    try {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (resumableCheckpoints(d) == 0) {
        assertThat(p.isAlive()).as(Files.exists(dir.resolve("killed.log"))
            ? Files.readString(dir.resolve("killed.log")) : "").isTrue();
        assertThat(System.nanoTime()).as("no checkpoint within 60 s").isLessThan(deadline);
        Thread.sleep(20);
      }
    } finally {
      p.destroyForcibly(); // SIGKILL
      assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    }
    assertThat(Files.exists(d.resolve("step-0000000300"))).as("killed before the end").isFalse();

    List<String> resume = new ArrayList<>(List.of(common));
    resume.addAll(List.of("--workers", "3", "--resume", d.toString(), "--checkpoint-dir", d.toString()));
    Result resumed = train(resume.toArray(String[]::new));
    assertThat(resumed.out()).contains("resuming from " + d.toAbsolutePath());
    Result uninterrupted = train(concat(common, "--checkpoint-dir", whole.toString()));
    assertSameCheckpoint(whole, d, 300);
    assertThat(accuracyLine(resumed)).isEqualTo(accuracyLine(uninterrupted));
  }

  /** Trainer state files written whole (a temporary file is not one). */
  private static long resumableCheckpoints(Path root) throws Exception {
    if (!Files.isDirectory(root.resolve("trainer-state"))) {
      return 0;
    }
    try (Stream<Path> s = Files.list(root.resolve("trainer-state"))) {
      return s.filter(p -> p.getFileName().toString().endsWith(".txt")).count();
    }
  }

  private static String[] concat(String[] a, String... b) {
    List<String> all = new ArrayList<>(List.of(a));
    all.addAll(List.of(b));
    return all.toArray(String[]::new);
  }

  /** The complete checkpoints under {@code root}, in order. */
  static List<String> steps(Path root) throws Exception {
    try (Stream<Path> s = Files.list(root)) {
      return s.map(p -> p.getFileName().toString()).filter(n -> n.matches("step-\\d{10}"))
          .filter(n -> Files.exists(root.resolve(n).resolve("manifest.json"))).sorted().toList();
    }
  }

  /**
   * Checkpoint {@code step} under {@code a} and {@code b}: every data file and the trainer state byte for byte,
   * and the manifests but for the model's id (each run names its model afresh) and the manifest's own CRC.
   */
  static void assertSameCheckpoint(Path a, Path b, long step) throws Exception {
    String name = String.format("step-%010d", step);
    Path ca = a.resolve(name);
    Path cb = b.resolve(name);
    List<String> files;
    try (Stream<Path> s = Files.list(ca)) {
      files = s.map(p -> p.getFileName().toString()).sorted().toList();
    }
    try (Stream<Path> s = Files.list(cb)) {
      assertThat(s.map(p -> p.getFileName().toString()).sorted().toList()).isEqualTo(files);
    }
    assertThat(files).contains("fc1%2Eweight.npy", "fc1%2Eweight.exp_avg.npy", "manifest.json");
    for (String f : files) {
      if (!f.equals("manifest.json")) {
        assertThat(Files.readAllBytes(cb.resolve(f))).as(f).isEqualTo(Files.readAllBytes(ca.resolve(f)));
      }
    }
    assertThat(manifest(cb)).isEqualTo(manifest(ca));
    Path state = Path.of("trainer-state", name + ".txt");
    assertThat(Files.readAllBytes(b.resolve(state))).as(state.toString()).isEqualTo(Files.readAllBytes(a.resolve(state)));
  }

  /**
   * The manifest without what names the run rather than its training state: the model's id and
   * incarnation, the CRC over them, and the copies the cluster kept of each shard (replicas: a run
   * with 2 copies is compared with an undisturbed one with 1).
   */
  private static CheckpointManifest manifest(Path checkpoint) throws Exception {
    try (CheckpointReader r = CheckpointReader.open(checkpoint)) {
      return r.manifest().toBuilder().clearModelId().clearModelIncarnation().clearManifestCrc32C().clearReplicas()
          .build();
    }
  }

  private static String accuracyLine(Result r) {
    return line(r, "test accuracy").replaceAll(" in \\d+\\.\\d s$", "");
  }

  private static String line(Result r, String prefix) {
    return r.out().lines().filter(l -> l.startsWith(prefix)).findFirst().orElseThrow(() -> new AssertionError(r.out()));
  }
}
