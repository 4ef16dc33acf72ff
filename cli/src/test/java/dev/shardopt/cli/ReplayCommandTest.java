package dev.shardopt.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.cli.io.Tensor;
import dev.shardopt.cli.io.TensorFiles;
import java.awt.image.BufferedImage;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The replay and describe commands end to end: exit codes, one-line errors, no partial output. */
class ReplayCommandTest {
  @TempDir Path dir;

  record Run(int status, String out, String err) {}

  static Run run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int status = ShardoptCli.run(new PrintWriter(out), new PrintWriter(err), args);
    return new Run(status, out.toString(), err.toString());
  }

  static Path reference(String name) throws Exception {
    return ReferenceConformanceTest.referenceRoot().resolve(name);
  }

  @Test
  void replaysAReferenceCaseToAFile() throws Exception {
    Path c = reference("p19_adam_warmup");
    Path out = dir.resolve("out.npy");
    Run r = run("replay", "--pipeline", "adam(0.01).warmup(10)", "--params", c.resolve("init.npy").toString(),
        "--grads", c.resolve("grads.npy").toString(), "--out", out.toString());
    assertThat(r.err()).isEmpty();
    assertThat(r.status()).isZero();
    assertThat(r.out()).isEqualTo("replayed 40 pushes of adam(0.01).warmup(10): 40 updates applied, 0 skipped -> " + out + "\n");
    Tensor got = TensorFiles.read(out).get("param");
    Tensor want = TensorFiles.read(c.resolve("expected.npy")).get("param");
    assertThat(got.shape()).isEqualTo(new long[] {40, 512});
    for (int i = 0; i < want.data().length; i++) {
      assertThat(Math.abs(got.data()[i] - want.data()[i])).isLessThanOrEqualTo((float) (2e-6 + 2e-5 * Math.abs(want.data()[i])));
    }
  }

  @Test
  void replaysNpzWithTrainersAndSkips() throws Exception {
    Path c = reference("p31_trainers2_nesterov_skipNonFinite");
    Path out = dir.resolve("out.npz");
    Run r = run("replay", "--pipeline", "nesterov(2e-3).skipNonFinite()", "--params", c.resolve("init.npy").toString(),
        "--grads", c.resolve("grads.npy").toString(), "--out", out.toString(), "--trainers", "2", "--threads", "2");
    assertThat(r.status()).isZero();
    assertThat(r.out()).contains(": 29 updates applied, 1 skipped -> ");
    assertThat(TensorFiles.read(out).get("param").shape()).isEqualTo(new long[] {30, 512});
  }

  @Test
  void aBadPipelineIsOneLineAndStatusTwo() throws Exception {
    Path c = reference("p01_sgd_defaults");
    Path out = dir.resolve("out.npy");
    Run r = run("replay", "--pipeline", "sgd().cosin(10)", "--params", c.resolve("init.npy").toString(),
        "--grads", c.resolve("grads.npy").toString(), "--out", out.toString());
    assertThat(r.status()).isEqualTo(2);
    assertThat(r.err()).isEqualTo("shardopt: --pipeline: unknown method 'cosin' at column 7 — did you mean 'cosine'?\n");
    assertThat(out).doesNotExist();
  }

  @Test
  void aNonFiniteGradientWithoutSkipWritesNothing() throws Exception {
    Path c = reference("p27_adam_skipNonFinite");
    Path out = dir.resolve("out.npy");
    Run r = run("replay", "--pipeline", "adam(0.01)", "--params", c.resolve("init.npy").toString(),
        "--grads", c.resolve("grads.npy").toString(), "--out", out.toString());
    assertThat(r.status()).isEqualTo(2);
    // the README of the reference cases: push 5 is an all-NaN row
    assertThat(r.err()).isEqualTo("shardopt: push 5: the gradient of 'param' is NaN at index 0; nothing was applied"
        + " (add .skipNonFinite() to skip such steps)\n");
    assertThat(out).doesNotExist();
    assertThat(Files.list(dir)).isEmpty();
  }

  @Test
  void mismatchedShapesAndKeysAreNamed() throws Exception {
    Path init = dir.resolve("init.npz");
    Map<String, Tensor> params = new LinkedHashMap<>();
    params.put("w", Tensor.of(new float[6], 2, 3));
    params.put("b", Tensor.vector(0, 0));
    TensorFiles.write(init, params);

    Path grads = dir.resolve("grads.npz");
    Map<String, Tensor> g = new LinkedHashMap<>();
    g.put("w", Tensor.of(new float[12], 2, 3, 2));
    g.put("b", Tensor.of(new float[4], 2, 2));
    TensorFiles.write(grads, g);
    Run r = run("replay", "--pipeline", "sgd()", "--params", init.toString(), "--grads", grads.toString(),
        "--out", dir.resolve("out.npz").toString());
    assertThat(r.status()).isEqualTo(2);
    assertThat(r.err()).isEqualTo("shardopt: grads 'w' has shape [2, 3, 2], expected [T, 2, 3] for init shape [2, 3]\n");

    g.remove("w");
    TensorFiles.write(grads, g);
    r = run("replay", "--pipeline", "sgd()", "--params", init.toString(), "--grads", grads.toString(),
        "--out", dir.resolve("out.npz").toString());
    assertThat(r.err()).isEqualTo("shardopt: grads has no tensor 'w' (init has w, b)\n");
    assertThat(dir.resolve("out.npz")).doesNotExist();

    r = run("replay", "--pipeline", "sgd()", "--params", init.toString(), "--grads", dir.resolve("missing.npy").toString(),
        "--out", dir.resolve("out.npz").toString());
    assertThat(r.status()).isEqualTo(2);
    assertThat(r.err()).startsWith("shardopt: " + dir.resolve("missing.npy")).doesNotContain("\tat ");
  }

  @Test
  void checkpointOptionsGoTogetherAndNeedWorkers() throws Exception {
    Path c = reference("p26_momentum_accumulate4");
    Path out = dir.resolve("out.npy");
    String[] base = {"replay", "--pipeline", "momentum(0.01).accumulate(4)", "--params", c.resolve("init.npy").toString(),
        "--grads", c.resolve("grads.npy").toString(), "--out", out.toString()};

    Run onlyDir = run(concat(base, "--workers", "1", "--checkpoint-dir", dir.resolve("ckpt").toString()));
    Run onlyAt = run(concat(base, "--workers", "1", "--checkpoint-at", "8"));
    Run noWorkers = run(concat(base, "--checkpoint-dir", dir.resolve("ckpt").toString(), "--checkpoint-at", "8"));
    Run resumeNoWorkers = run(concat(base, "--resume", dir.resolve("ckpt").toString()));

    assertThat(onlyDir.status()).isEqualTo(2);
    assertThat(onlyDir.err()).isEqualTo("shardopt: --checkpoint-dir and --checkpoint-at go together; got only --checkpoint-dir\n");
    assertThat(onlyAt.err()).isEqualTo("shardopt: --checkpoint-dir and --checkpoint-at go together; got only --checkpoint-at\n");
    assertThat(noWorkers.status()).isEqualTo(2);
    assertThat(noWorkers.err()).isEqualTo(
        "shardopt: --checkpoint-dir needs --workers N: checkpoints are taken and restored by a cluster\n");
    assertThat(resumeNoWorkers.err()).isEqualTo(
        "shardopt: --resume needs --workers N: checkpoints are taken and restored by a cluster\n");
    assertThat(out).doesNotExist();
    assertThat(dir.resolve("ckpt")).doesNotExist();
  }

  @Test
  void aCheckpointStepOffTheAccumulateBoundaryOrPastTheEndIsRefusedBeforeAnyPush() throws Exception {
    Path c = reference("p26_momentum_accumulate4");
    Path out = dir.resolve("out.npy");
    String[] base = {"replay", "--pipeline", "momentum(0.01).accumulate(4)", "--params", c.resolve("init.npy").toString(),
        "--grads", c.resolve("grads.npy").toString(), "--out", out.toString(), "--workers", "1",
        "--checkpoint-dir", dir.resolve("ckpt").toString()};

    Run off = run(concat(base, "--checkpoint-at", "6"));
    Run past = run(concat(base, "--checkpoint-at", "44"));

    assertThat(off.status()).isEqualTo(2);
    assertThat(off.err()).isEqualTo(
        "shardopt: --checkpoint-at 6 is not a step boundary of accumulate(4): choose a multiple of 4, e.g. 4 or 8\n");
    assertThat(past.status()).isEqualTo(2);
    assertThat(past.err()).isEqualTo(
        "shardopt: --checkpoint-at must be in [0, 40] (the step boundaries through the last push), got 44\n");
    assertThat(out).doesNotExist();
    assertThat(dir.resolve("ckpt")).doesNotExist();
  }

  @Test
  void helpExplainsCheckpointAndResume() {
    Run help = run("replay", "--help");
    assertThat(help.status()).isZero();
    assertThat(help.out()).contains("--checkpoint-dir=DIR", "--checkpoint-at=S", "--resume=PATH",
        "out then gets those T-S rows, [T-S, *shape]", "byte for byte");
  }

  private static String[] concat(String[] base, String... more) {
    String[] all = java.util.Arrays.copyOf(base, base.length + more.length);
    System.arraycopy(more, 0, all, base.length, more.length);
    return all;
  }

  @Test
  void describePrintsCanonicalTextJsonAndLearningRates() throws Exception {
    Path png = dir.resolve("lr.png");
    Run r = run("describe", "adam(1e-3).warmup(100).cosine(1000)", "--plot", png.toString());
    assertThat(r.status()).isZero();
    assertThat(r.out()).startsWith("pipeline: adam().warmup(100).cosine(1000)\njson:\n{\n  \"specVersion\": 1,");
    assertThat(r.out()).contains("  t=0          lr=0.00000\n");
    assertThat(r.out()).contains("  t=50         lr=0.000500000\n");
    assertThat(r.out()).contains("  t=100        lr=0.00100000\n");
    BufferedImage image = ImageIO.read(png.toFile());
    assertThat(image.getWidth()).isPositive();
    Run bad = run("describe", "adam(1e-3).beta2(2)");
    assertThat(bad.status()).isEqualTo(2);
    assertThat(bad.err()).isEqualTo("shardopt: beta2 must be in [0, 1), got 2.0 (at column 12)\n");
  }
}
