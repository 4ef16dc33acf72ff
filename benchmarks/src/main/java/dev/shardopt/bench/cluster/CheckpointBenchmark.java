package dev.shardopt.bench.cluster;

import static dev.shardopt.bench.cluster.ClusterBenchmark.log;
import static dev.shardopt.client.Initializers.normal;

import dev.shardopt.client.CheckpointInfo;
import dev.shardopt.client.ClientOptions;
import dev.shardopt.client.ModelOptions;
import dev.shardopt.client.RemoteModel;
import dev.shardopt.client.ShardoptCluster;
import dev.shardopt.client.TensorDef;
import dev.shardopt.client.Tensors;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.embedded.EmbeddedCluster;
import dev.shardopt.embedded.ShardoptLocal;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Checkpoint write and restore throughput of a 100M-parameter Adam model (4 tensors of 25M, 2
 * trainers, SYNC) on an embedded cluster of 2 workers, against a plain sequential file copy of
 * the same number of bytes (parameters + both Adam moments) measured in the same run. Issue 8's
 * target: both ratios >= 0.8x.
 *
 * <p>Rounds, interleaved with the copies so that a change in the machine's load hits both: copy,
 * then per round one training step, a checkpoint, deleting the model, restoring it from that
 * checkpoint (the restored model trains the next round), and a copy. Each round's baseline is the
 * mean time of the copies right before and after it; the report gives every round and the medians.
 * Before each timed step, untimed: a full GC and a warm-up of the free memory ({@link #settle}).
 *
 * <ul>
 *   <li><b>checkpoint write</b>: bytes / {@code total_millis} of {@code CheckpointModel} (holding the
 *       boundary, creating the files, the workers' snapshots into them, their fdatasyncs, the
 *       manifest);
 *   <li><b>snapshot</b>: {@code snapshot_millis}, the only part training waits for;
 *   <li><b>restore</b>: {@code restoreModel} until READY (the files' sizes and headers checked, the
 *       workers' reads with their CRC32Cs, those checked against the manifest), bytes / wall time;
 *   <li><b>file copy</b>: {@code FileChannel.transferTo} of a file of that size into a new file,
 *       then fsync of the copy; the source was just written (and fsynced), as the checkpoint's files
 *       are when they are restored: both read from the page cache where it holds them.
 * </ul>
 *
 * <p>On a shared machine read the load average printed with the table. Options ({@code
 * --name=value}): {@code params} (100000000), {@code tensors} (4), {@code rounds} (3), {@code warm}
 * (true; false skips the warm-up of the free memory), {@code dir} (a new directory under /tmp,
 * deleted afterwards), {@code timeout-min} (15). Needs about 6 GB of
 * heap ({@code -Xmx8g}). Progress goes to stderr, the markdown table to stdout.
 */
public final class CheckpointBenchmark {
  private CheckpointBenchmark() {}

  /** One round's times, in ms. */
  record Round(double copyBefore, double write, double snapshot, double restore, double copyAfter) {
    double baseline() {
      return (copyBefore + copyAfter) / 2;
    }

    double writeRatio() {
      return baseline() / write;
    }

    double restoreRatio() {
      return baseline() / restore;
    }
  }

  public static void main(String[] args) throws Exception {
    Map<String, String> o = ClusterBenchmark.options(args);
    long params = Long.parseLong(o.getOrDefault("params", "100000000"));
    boolean warm = Boolean.parseBoolean(o.getOrDefault("warm", "true"));
    int tensors = Integer.parseInt(o.getOrDefault("tensors", "4"));
    int rounds = Integer.parseInt(o.getOrDefault("rounds", "3"));
    int timeoutMin = Integer.parseInt(o.getOrDefault("timeout-min", "15"));
    if (rounds < 1) {
      throw new IllegalArgumentException("--rounds must be >= 1, got " + rounds);
    }
    Path dir = o.containsKey("dir") ? Files.createDirectories(Path.of(o.get("dir")))
        : Files.createTempDirectory(Path.of("/tmp"), "shardopt-ckpt-bench");
    Thread watchdog = new Thread(() -> {
      try {
        Thread.sleep(TimeUnit.MINUTES.toMillis(timeoutMin));
        log("the run took over " + timeoutMin + " min: halting");
        deleteTree(dir);
        Runtime.getRuntime().halt(2);
      } catch (InterruptedException e) {
        // the run ended
      }
    }, "watchdog");
    watchdog.setDaemon(true);
    watchdog.start();
    try {
      System.out.println(run(params, tensors, rounds, warm, dir));
    } finally {
      deleteTree(dir);
      watchdog.interrupt();
    }
  }

  static String run(long params, int tensors, int rounds, boolean warm, Path dir) throws Exception {
    String loadBefore = ClusterBenchmark.Environment.load();
    int n = Math.toIntExact(params / tensors);
    long bytes = 3L * Float.BYTES * n * tensors; // parameters, exp_avg, exp_avg_sq
    Runnable quiesce = () -> settle(dir, warm ? bytes : 0);

    List<Round> done = new ArrayList<>();
    double copy = copyMillis(dir, bytes, quiesce);
    log(String.format(Locale.ROOT, "file copy: %.0f ms", copy));
    EmbeddedCluster.Builder b = EmbeddedCluster.builder().workers(2);
    ClientOptions options = ClientOptions.defaults().rpcDeadline(Duration.ofMinutes(2))
        .checkpointDeadline(Duration.ofMinutes(10)).readyTimeout(Duration.ofMinutes(5));
    try (ShardoptCluster cluster = ShardoptLocal.start(b, options)) {
      TensorDef[] defs = new TensorDef[tensors];
      for (int t = 0; t < tensors; t++) {
        defs[t] = Tensors.of("layer" + t + ".weight", n).init(normal(0.02, t + 1));
      }
      RemoteModel model = cluster.createModel(ModelOptions.named("bench-0").pipeline(Pipeline.parse("adam(0.001)"))
          .trainers(2).tensors(defs));
      for (int r = 1; r <= rounds; r++) {
        trainOneStep(model, n, tensors, r - 1);
        Path root = dir.resolve("checkpoints-" + r);
        quiesce.run();
        CheckpointInfo info = model.checkpoint(root, r);
        if (info.bytes() != bytes) {
          throw new IllegalStateException("the checkpoint wrote " + info.bytes() + " bytes, expected " + bytes);
        }
        model.delete(); // the workers' memory, before the restore allocates it again
        quiesce.run();
        long t0 = System.nanoTime();
        model = cluster.restoreModel("bench-" + r, Path.of(info.path()));
        double restore = (System.nanoTime() - t0) / 1e6;
        if (model.step() != r) {
          throw new IllegalStateException("restored at step " + model.step() + ", expected " + r);
        }
        deleteTree(root);
        double after = copyMillis(dir, bytes, quiesce);
        Round round = new Round(copy, info.totalMillis(), info.snapshotMillis(), restore, after);
        done.add(round);
        log(String.format(Locale.ROOT, "round %d: checkpoint %.0f ms (snapshot %.0f ms), restore %.0f ms, file copy %.0f"
            + " ms; write %.2fx, restore %.2fx the copy", r, round.write(), round.snapshot(), restore, after,
            round.writeRatio(), round.restoreRatio()));
        copy = after;
      }
      model.delete();
    }
    String loadAfter = ClusterBenchmark.Environment.load();

    StringBuilder out = new StringBuilder();
    out.append(String.format(Locale.ROOT, "Checkpoint of a %,d-parameter adam(0.001) model (%d tensors of %,d, 2 trainers),"
        + " 2 embedded workers, %,d bytes (parameters + exp_avg + exp_avg_sq), into %s; %d rounds; free memory %s%n%n",
        (long) n * tensors, tensors, n, bytes, dir, rounds, warm ? "warmed before each timed step" : "not warmed"));
    out.append("| Round | file copy before / after (ms) | baseline MB/s | checkpoint write (ms) | MB/s | write ÷ copy |"
        + " snapshot (ms) | restore (ms) | MB/s | restore ÷ copy |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int i = 0; i < done.size(); i++) {
      Round r = done.get(i);
      out.append(String.format(Locale.ROOT, "| %d | %.0f / %.0f | %.0f | %.0f | %.0f | %.2f | %.0f | %.0f | %.0f | %.2f |%n",
          i + 1, r.copyBefore(), r.copyAfter(), mbps(bytes, r.baseline()), r.write(), mbps(bytes, r.write()),
          r.writeRatio(), r.snapshot(), r.restore(), mbps(bytes, r.restore()), r.restoreRatio()));
    }
    double writeMedian = median(done.stream().mapToDouble(Round::writeRatio).toArray());
    double restoreMedian = median(done.stream().mapToDouble(Round::restoreRatio).toArray());
    out.append(String.format(Locale.ROOT, "%nMedian of the rounds: write %.2fx, restore %.2fx the file copy (target >= 0.8x:"
        + " write %s, restore %s); snapshot (the training stall) %.0f ms.%n", writeMedian, restoreMedian,
        writeMedian >= 0.8 ? "met" : "**not met**", restoreMedian >= 0.8 ? "met" : "**not met**",
        median(done.stream().mapToDouble(Round::snapshot).toArray())));
    out.append(String.format(Locale.ROOT, "Load average before: %s; after: %s.%n%s%n", loadBefore, loadAfter,
        ClusterBenchmark.Environment.describe()));
    return out.toString();
  }

  private static double mbps(long bytes, double millis) {
    return bytes / 1e6 / (millis / 1e3);
  }

  private static double median(double[] v) {
    double[] s = v.clone();
    java.util.Arrays.sort(s);
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }

  /** One SYNC step: both trainers push the same gradient at once. */
  private static void trainOneStep(RemoteModel model, int n, int tensors, long step) throws Exception {
    Map<String, float[]> g = new LinkedHashMap<>();
    for (int t = 0; t < tensors; t++) {
      g.put("layer" + t + ".weight", ClusterBenchmark.gradient(n, t));
    }
    ExecutorService pool = Executors.newFixedThreadPool(2, ClusterBenchmark.daemon("trainer"));
    try {
      List<Future<?>> pushes = new ArrayList<>();
      for (int r = 0; r < 2; r++) {
        int rank = r;
        pushes.add(pool.submit(() -> model.trainer(rank, 2).push(step, g)));
      }
      for (Future<?> f : pushes) {
        f.get(5, TimeUnit.MINUTES);
      }
      model.pull(step + 1);
    } finally {
      pool.shutdownNow();
    }
  }

  /**
   * Before each timed step (copy, checkpoint, restore), untimed: a full GC, so that the trainers'
   * garbage (gradients, pulled copies; in one JVM with the workers here) is not collected during
   * the step; and, when {@code warmBytes > 0}, a scratch file of that size written and deleted.
   * Why: this VM gives free memory back to its host after some seconds idle, and the kernel's next
   * use of it then costs several times more (measured: writing 600 MB into the page cache took
   * 200 ms right after other pages were freed, 830 ms after 20 s idle). The copy's destination gets
   * memory freed a moment before (its source, the last step's files), the checkpoint memory idle
   * since the last round: without this, which one pays depends on timing, not on the code.
   */
  static void settle(Path dir, long warmBytes) {
    System.gc();
    if (warmBytes <= 0) {
      return;
    }
    Path scratch = dir.resolve("warm-scratch.bin");
    try {
      try (FileChannel out = FileChannel.open(scratch, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
        ByteBuffer block = ByteBuffer.allocateDirect(4 << 20);
        for (long done = 0; done < warmBytes; ) {
          block.clear().limit((int) Math.min(block.capacity(), warmBytes - done));
          done += out.write(block);
        }
      }
      Files.delete(scratch); // dirty pages of a deleted file are dropped, never written back
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /**
   * Writes a file of {@code bytes} (fsynced, not timed), runs {@code beforeTiming}, then times its
   * copy: transferTo into a new file and fsync of the copy. Deletes both.
   */
  static double copyMillis(Path dir, long bytes, Runnable beforeTiming) throws IOException {
    Path src = dir.resolve("copy-source.bin");
    Path dst = dir.resolve("copy-target.bin");
    try {
      ByteBuffer block = ByteBuffer.allocateDirect(4 << 20);
      for (int i = 0; i < block.capacity(); i++) {
        block.put(i, (byte) (i * 31 + (i >>> 12)));
      }
      try (FileChannel out = FileChannel.open(src, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
        for (long done = 0; done < bytes; ) {
          block.clear().limit((int) Math.min(block.capacity(), bytes - done));
          done += out.write(block);
        }
        out.force(true);
      }
      beforeTiming.run();
      long t0 = System.nanoTime();
      try (FileChannel in = FileChannel.open(src, StandardOpenOption.READ);
          FileChannel out = FileChannel.open(dst, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
        for (long done = 0; done < bytes; ) {
          done += in.transferTo(done, bytes - done, out);
        }
        out.force(true);
      }
      return (System.nanoTime() - t0) / 1e6;
    } finally {
      Files.deleteIfExists(src);
      Files.deleteIfExists(dst);
    }
  }

  static void deleteTree(Path root) {
    if (!Files.exists(root)) {
      return;
    }
    try (Stream<Path> s = Files.walk(root)) {
      for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    } catch (IOException e) {
      log("could not delete " + root + ": " + e);
    }
  }
}
