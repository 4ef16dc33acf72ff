package dev.shardopt.cli.train;

import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.cli.ShardoptCli;
import dev.shardopt.embedded.OpenClHere;
import java.awt.image.BufferedImage;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@code shardopt train} and {@code shardopt compare} through {@link ShardoptCli#run(PrintWriter, PrintWriter, String...)}. */
class TrainCommandTest {
  private static final Pattern ACCURACY =
      Pattern.compile("(?m)^test accuracy (0\\.\\d{4}|1\\.0000) \\((\\d+)/359\\) after 60 steps in \\d+\\.\\d s$");

  @TempDir Path dir;

  record Result(int status, String out, String err) {}

  static Result run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int status = ShardoptCli.run(new PrintWriter(out), new PrintWriter(err), args);
    return new Result(status, out.toString(), err.toString());
  }

  @Test
  void trainsAndPrintsTheAccuracyAndWritesThePlot() throws Exception {
    Path png = dir.resolve("train.png");
    Result r = run("train", "--steps", "60", "--batch", "64", "--hidden", "32", "--plot", png.toString());

    assertThat(r.status()).as("stderr: %s", r.err()).isZero();
    Matcher m = ACCURACY.matcher(r.out());
    assertThat(m.find()).as("stdout: %s", r.out()).isTrue();
    assertThat(Double.parseDouble(m.group(1))).isGreaterThan(0.5); // 60 steps are enough for well above chance
    assertThat(r.out()).contains("pipeline: adam(2e-3).warmup(6).cosine(60).clipNorm(1.0).weightDecay(1e-4)");
    assertThat(r.out()).contains("data: 1797 digits, 1438 train / 359 test (stratified)");
    assertThat(r.out()).containsPattern("train +100% .*60/60 .* loss \\d\\.\\d{4} gnorm \\S+ lr \\S+");
    assertThat(r.out()).contains("plot: " + png);
    BufferedImage img = ImageIO.read(png.toFile());
    assertThat(img).isNotNull();
    assertThat(img.getWidth()).isEqualTo(1000);
    assertThat(img.getHeight()).isEqualTo(3 * 380);
    // not a terminal: a few plain progress lines, not one per step
    assertThat(r.out().lines().filter(l -> l.startsWith("train ")).count()).isLessThan(20);
  }

  @Test
  void comparesPipelines() throws Exception {
    Path png = dir.resolve("cmp.png");
    Result r = run("compare", "sgd(0.1)", "adam(1e-3)", "--steps", "30", "--batch", "32", "--hidden", "16",
        "--threshold", "5", "--plot", png.toString());

    assertThat(r.status()).as("stderr: %s", r.err()).isZero();
    assertThat(r.out()).containsPattern("(?m)^pipeline +final loss +test acc +steps to loss ≤ 5 +time \\(s\\)$");
    // a loss threshold of 5 is met as soon as the first full 50-step window... which 30 steps never have
    assertThat(r.out()).containsPattern("(?m)^sgd\\(0\\.1\\) +\\d\\.\\d{4} +\\d\\.\\d{4} +— +\\d+\\.\\d$");
    assertThat(r.out()).containsPattern("(?m)^adam\\(1e-3\\) +\\d\\.\\d{4} +\\d\\.\\d{4} +— +\\d+\\.\\d$");
    assertThat(ImageIO.read(png.toFile()).getHeight()).isEqualTo(2 * 380);
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "train --steps 0                          | --steps must be in [1, 1000000], got 0",
      "train --trainers 0                       | --trainers must be in [1, 64], got 0",
      "train --batch 33                         | --batch must be a multiple of --trainers (2)",
      "train --batch 2                          | at least 2 rows per trainer",
      "train --batch 4000                       | at most the 1438 training rows, got 4000",
      "train --hidden 0                         | --hidden must be in [1, 4096], got 0",
      "train --workers 0                        | --workers must be in [1, 64], got 0",
      "train --eval-every 0                     | --eval-every must be >= 1, got 0",
      "train --pipeline adam(                   | --pipeline 'adam(':",
      "train --coordinator nowhere              | --coordinator must be HOST:PORT",
      "train --coordinator h:1 --workers 3      | --workers 3 sizes the embedded cluster; it cannot be combined with --coordinator h:1",
      "train --coordinator h:1 --device cuda    | --device sets the embedded cluster's workers; it cannot be combined with --coordinator h:1",
      "train --device gpu                       | --device must be one of cpu, opencl, cuda, auto, got 'gpu'",
      "train --device-index 1                   | --device-index 1 with --device cpu: the cpu backend has one device, 0",
      "train --plot /no/such/dir/t.png          | --plot /no/such/dir/t.png: the directory /no/such/dir does not exist",
      "train --steps many                       | Invalid value for option '--steps': 'many' is not an int",
      "compare                                  | Missing required parameter: 'DSL'",
      "compare sgd(0.1) --threshold 0           | --threshold must be a positive loss, e.g. 0.1, got 0.0",
      "compare sgd(0.1) nope(1)                 | pipeline 2 'nope(1)':",
  })
  void badOptionsExit2WithOneLine(String args, String message) {
    Result r = run(args.strip().split(" +"));
    assertThat(r.status()).as("stdout: %s", r.out()).isEqualTo(ShardoptCli.EXIT_USER_ERROR);
    assertThat(r.err().lines().toList()).as(r.err()).hasSize(1);
    assertThat(r.err()).startsWith("shardopt: ").contains(message);
  }

  @Test
  void aDivergingPipelineIsAUserError() {
    Result r = run("train", "--pipeline", "sgd(1e30)", "--steps", "20", "--batch", "32", "--hidden", "16",
        "--plot", dir.resolve("d.png").toString());
    assertThat(r.status()).as("stdout: %s", r.out()).isEqualTo(ShardoptCli.EXIT_USER_ERROR);
    assertThat(r.err().lines().toList()).as(r.err()).hasSize(1);
    assertThat(r.err()).startsWith("shardopt: the training diverged at step ").contains("is not finite");
    assertThat(Files.exists(dir.resolve("d.png"))).isFalse();
  }

  @Test
  void anUnreachableCoordinatorIsAUserError() {
    Result r = run("train", "--coordinator", "127.0.0.1:1", "--steps", "5");
    assertThat(r.status()).as("stdout: %s", r.out()).isEqualTo(ShardoptCli.EXIT_USER_ERROR);
    assertThat(r.err().lines().toList()).as(r.err()).hasSize(1);
    assertThat(r.err()).startsWith("shardopt: the cluster at --coordinator 127.0.0.1:1 failed:");
  }

  @Test
  void aDeviceThatCannotOpenFailsTheEmbeddedWorkersWithOneLine() {
    OpenClHere.deviceName();
    Result r = run("train", "--device", "opencl", "--device-index", "9", "--steps", "5", "--plot",
        dir.resolve("o.png").toString());
    assertThat(r.status()).as("stdout: %s", r.out()).isEqualTo(ShardoptCli.EXIT_USER_ERROR);
    assertThat(r.err()).startsWith("shardopt: device opencl 9 is unavailable: opencl: no device at index 9; the devices"
        + " here are [0] ").endsWith(")\n");
    assertThat(r.err().lines()).hasSize(1);
    assertThat(Files.exists(dir.resolve("o.png"))).isFalse();
  }

  @Test
  void helpListsTheOptions() {
    Result r = run("train", "--help");
    assertThat(r.status()).isZero();
    assertThat(r.out()).contains("--pipeline=DSL", "--workers=N", "--trainers=K", "--steps=T", "--batch=B", "--seed=S",
        "--coordinator=HOST:PORT", "--plot=PNG", "--device=KIND", "--device-index=N", "--device-memory-limit=BYTES",
        "default: 800", "default: 128");
    assertThat(Files.exists(dir.resolve("train.png"))).isFalse();
  }
}
