package dev.shardopt.train;

import dev.shardopt.checkpoint.DurableFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.zip.CRC32C;

/**
 * What lives in the trainers at a step boundary {@code s}, saved next to the model's checkpoint
 * {@code DIR/step-<s>} so that a resumed run continues bitwise as the uninterrupted one:
 *
 * <ul>
 *   <li>each trainer's running batch-norm statistics ({@link BatchNormStatistics}: mean, variance, updates,
 *       momentum). Training normalizes with the batch's own statistics, so only evaluation reads them
 *       (trainer 0's), but every trainer keeps folding its slices in: all K are saved;
 *   <li>the position in the data order: the next global batch is {@link BatchOrder#batch}{@code (s)}. The
 *       order is a function of (training rows, B, seed, step), and the split of (labels, test fraction,
 *       seed), so {@code s} with B, the seed and the test fraction is the whole of it: there is no other RNG
 *       state (the initial parameters are the servers', in the checkpoint);
 *   <li>the run's history so far, for the report: each trainer's loss of each step before {@code s}, and the
 *       test accuracies measured before {@code s};
 *   <li>what the run must match to continue: K, B, H, the seed, the test fraction and the pipeline in force.
 * </ul>
 *
 * <p><b>File</b>: {@code DIR/trainer-state/step-<s, 10 digits>.txt}, outside the checkpoint directory (whose
 * manifest lists every file it holds). UTF-8 text, one {@code key value…} line each, doubles in Java's
 * round-trip decimal form ({@link Double#toString}), ending with {@code crc32c <8 hex digits>} of every
 * byte before that line. Written after the checkpoint completed, through a temporary file, fsync, an
 * atomic rename and an fsync of the directory: a crash leaves the file whole or absent (a checkpoint
 * without it is not resumable).
 */
public record TrainerState(long step, int trainers, int batch, int hidden, long seed, double testFraction,
    String pipeline, List<BatchNormStatistics> statistics, double[][] losses, long[] evalSteps,
    double[] evalAccuracy) {

  public static final String FORMAT = "shardopt-trainer-state 1";
  public static final String DIR_NAME = "trainer-state";

  public TrainerState {
    Objects.requireNonNull(pipeline, "pipeline");
    statistics = List.copyOf(statistics);
    if (statistics.size() != trainers || losses.length != step || evalSteps.length != evalAccuracy.length) {
      throw new IllegalArgumentException("trainer state of step " + step + " for " + trainers + " trainers has "
          + statistics.size() + " statistics, " + losses.length + " steps of losses, " + evalSteps.length
          + " evaluation steps and " + evalAccuracy.length + " accuracies");
    }
  }

  /** The file of step {@code step}'s trainer state under the checkpoint root {@code root}. */
  public static Path file(Path root, long step) {
    return root.resolve(DIR_NAME).resolve(String.format(Locale.ROOT, "step-%010d.txt", step));
  }

  /** Why a run of {@code config} cannot continue from this state, or empty when it can. */
  public Optional<String> mismatch(TrainingConfig config) {
    List<String> diffs = new ArrayList<>();
    differs(diffs, "--trainers", trainers, config.trainers());
    differs(diffs, "--batch", batch, config.batch());
    differs(diffs, "--hidden", hidden, config.hidden());
    differs(diffs, "--seed", seed, config.seed());
    differs(diffs, "the test fraction", testFraction, config.testFraction());
    differs(diffs, "--pipeline", pipeline, config.pipeline().toString());
    if (step > config.steps()) {
      diffs.add("--steps " + config.steps() + " ends before its step " + step);
    }
    return diffs.isEmpty() ? Optional.empty() : Optional.of(String.join("; ", diffs));
  }

  private static void differs(List<String> diffs, String what, Object saved, Object given) {
    if (!saved.equals(given)) {
      diffs.add("it has " + what + " " + saved + ", this run " + given);
    }
  }

  /** Writes {@code file} atomically (temporary file, fsync, rename, fsync of the directory). */
  public void write(Path file) throws IOException {
    StringBuilder b = new StringBuilder();
    line(b, "format", FORMAT);
    line(b, "step", step);
    line(b, "trainers", trainers);
    line(b, "batch", batch);
    line(b, "hidden", hidden);
    line(b, "seed", seed);
    line(b, "test-fraction", testFraction);
    line(b, "pipeline", pipeline);
    line(b, "next-batch", step);
    for (int r = 0; r < trainers; r++) {
      BatchNormStatistics s = statistics.get(r);
      line(b, "bn " + r, s.momentum() + " " + s.updates());
      line(b, "bn-mean " + r, join(s.mean()));
      line(b, "bn-variance " + r, join(s.variance()));
    }
    for (int r = 0; r < trainers; r++) {
      double[] l = new double[losses.length];
      for (int i = 0; i < l.length; i++) {
        l[i] = losses[i][r];
      }
      line(b, "losses " + r, join(l));
    }
    StringBuilder evals = new StringBuilder();
    for (int i = 0; i < evalSteps.length; i++) {
      evals.append(i == 0 ? "" : " ").append(evalSteps[i]).append(':').append(evalAccuracy[i]);
    }
    line(b, "evaluations", evals);
    byte[] body = b.toString().getBytes(StandardCharsets.UTF_8);
    byte[] tail = String.format(Locale.ROOT, "crc32c %08x%n", crc(body)).getBytes(StandardCharsets.UTF_8);

    Files.createDirectories(file.toAbsolutePath().getParent());
    byte[] all = new byte[body.length + tail.length];
    System.arraycopy(body, 0, all, 0, body.length);
    System.arraycopy(tail, 0, all, body.length, tail.length);
    DurableFiles.replace(file, all);
  }

  /**
   * Reads a file {@link #write} wrote.
   *
   * @throws IOException when it cannot be read, or is not such a file (named in the message)
   */
  public static TrainerState read(Path file) throws IOException {
    String text = Files.readString(file, StandardCharsets.UTF_8);
    int crcAt = text.lastIndexOf("crc32c ");
    if (crcAt < 0 || !text.startsWith("format " + FORMAT + "\n")) {
      throw new IOException(file + ": not a trainer state file of format '" + FORMAT + "'");
    }
    long want = crc(text.substring(0, crcAt).getBytes(StandardCharsets.UTF_8));
    if (!text.substring(crcAt).strip().equals(String.format(Locale.ROOT, "crc32c %08x", want))) {
      throw new IOException(file + ": checksum mismatch (the file is damaged)");
    }
    Lines in = new Lines(file, text.substring(0, crcAt));
    in.next("format");
    long step = Long.parseLong(in.next("step"));
    int trainers = Integer.parseInt(in.next("trainers"));
    int batch = Integer.parseInt(in.next("batch"));
    int hidden = Integer.parseInt(in.next("hidden"));
    long seed = Long.parseLong(in.next("seed"));
    double testFraction = Double.parseDouble(in.next("test-fraction"));
    String pipeline = in.next("pipeline");
    in.next("next-batch");
    List<BatchNormStatistics> stats = new ArrayList<>();
    for (int r = 0; r < trainers; r++) {
      String[] mu = in.next("bn " + r).split(" ");
      stats.add(BatchNormStatistics.restored(Double.parseDouble(mu[0]), doubles(in.next("bn-mean " + r)),
          doubles(in.next("bn-variance " + r)), Long.parseLong(mu[1])));
    }
    double[][] losses = new double[Math.toIntExact(step)][trainers];
    for (int r = 0; r < trainers; r++) {
      double[] l = doubles(in.next("losses " + r));
      if (l.length != step) {
        throw new IOException(file + ": trainer " + r + " has " + l.length + " losses, expected " + step);
      }
      for (int i = 0; i < l.length; i++) {
        losses[i][r] = l[i];
      }
    }
    String[] evals = in.next("evaluations").isEmpty() ? new String[0] : in.last.split(" ");
    long[] evalSteps = new long[evals.length];
    double[] evalAcc = new double[evals.length];
    for (int i = 0; i < evals.length; i++) {
      String[] sa = evals[i].split(":");
      evalSteps[i] = Long.parseLong(sa[0]);
      evalAcc[i] = Double.parseDouble(sa[1]);
    }
    return new TrainerState(step, trainers, batch, hidden, seed, testFraction, pipeline, stats, losses, evalSteps,
        evalAcc);
  }

  private static void line(StringBuilder b, String key, Object value) {
    b.append(key).append(' ').append(value).append('\n');
  }

  private static String join(double[] v) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < v.length; i++) {
      b.append(i == 0 ? "" : " ").append(v[i]);
    }
    return b.toString();
  }

  private static double[] doubles(String s) {
    if (s.isEmpty()) {
      return new double[0];
    }
    String[] parts = s.split(" ");
    double[] out = new double[parts.length];
    for (int i = 0; i < parts.length; i++) {
      out[i] = Double.parseDouble(parts[i]);
    }
    return out;
  }

  private static long crc(byte[] bytes) {
    CRC32C c = new CRC32C();
    c.update(bytes);
    return c.getValue();
  }

  /** The file's lines in order, each checked for its key. */
  private static final class Lines {
    private final Path file;
    private final String[] lines;
    private int i;
    String last;

    Lines(Path file, String body) {
      this.file = file;
      this.lines = body.split("\n", -1);
    }

    String next(String key) throws IOException {
      if (i >= lines.length || !(lines[i].equals(key) || lines[i].startsWith(key + " "))) {
        throw new IOException(file + ": line " + (i + 1) + " should start with '" + key + "'");
      }
      String line = lines[i++];
      last = line.length() == key.length() ? "" : line.substring(key.length() + 1);
      return last;
    }
  }
}
