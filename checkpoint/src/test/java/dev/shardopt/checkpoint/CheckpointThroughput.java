package dev.shardopt.checkpoint;

import dev.shardopt.v1.CheckpointManifest;
import dev.shardopt.v1.TensorSpec;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Checkpoint write and restore throughput for a 100M-parameter Adam model (a 100M-float tensor plus its two
 * state slots m and v: 1.2 GB), against a plain sequential copy of the same bytes in the same run. Not a unit
 * test; run it with
 *
 * <pre>
 * mvn -B -o -q -pl checkpoint -am test-compile
 * mvn -B -o -q -pl checkpoint dependency:build-classpath -Dmdep.outputFile=/tmp/cp.txt
 * java -Xmx2g -cp checkpoint/target/classes:checkpoint/target/test-classes:proto/target/classes:$(cat /tmp/cp.txt) \
 *     dev.shardopt.checkpoint.CheckpointThroughput [DIR [ELEMENTS [WRITERS [ROUNDS]]]]
 * </pre>
 *
 * DIR (default: a new directory under /tmp) is deleted afterwards. WRITERS threads (default 2) each write,
 * and later read, their contiguous share of every file, as that many workers would.
 *
 * <ul>
 *   <li><b>write</b>: {@link CheckpointLayout#create}, every range through {@link ShardWriter} (CRC32C,
 *       positional writes, fsync), {@link ManifestWriter#commit} (coverage, CRC combination, fsync of every
 *       file, manifest, renames);</li>
 *   <li><b>restore</b>: {@link CheckpointReader#open}, every range through {@link CheckpointReader#readRange}
 *       into a float[], then {@link CheckpointReader#checkRanges} (all CRCs checked: one pass);</li>
 *   <li><b>verify</b>: {@link CheckpointReader#verify} alone (a second, streamed CRC pass);</li>
 *   <li><b>copy</b>: {@code FileChannel.transferTo} of each of the three files to a new file, then fsync
 *       (the same durability as a checkpoint), and the copy without fsync.</li>
 * </ul>
 * The files are in the page cache for the reads, as they are for the copy's reads.
 */
public final class CheckpointThroughput {

  public static void main(String[] args) throws Exception {
    Path dir = args.length > 0 ? Path.of(args[0]) : Files.createTempDirectory(Path.of("/tmp"), "ckpt-bench-");
    long elements = args.length > 1 ? Long.parseLong(args[1]) : 100_000_000L;
    int writers = args.length > 2 ? Integer.parseInt(args[2]) : 2;
    int rounds = args.length > 3 ? Integer.parseInt(args[3]) : 3;
    Files.createDirectories(dir);
    try {
      run(dir, (int) elements, writers, rounds);
    } finally {
      Io.deleteRecursively(dir);
    }
  }

  private static void run(Path dir, int n, int writers, int rounds) throws Exception {
    float[] values = new float[n];
    java.util.SplittableRandom r = new java.util.SplittableRandom(1);
    for (int i = 0; i < n; i++) {
      values[i] = (float) r.nextDouble(-1, 1);
    }
    TensorSpec spec = TensorSpec.newBuilder().setName("model.weight").addShape(n).build();
    CheckpointPlan plan = CheckpointPlan.of(List.of(spec), List.of("m", "v"));
    long bytes = plan.totalBytes();
    CheckpointManifest model = CheckpointManifest.newBuilder().setModelId("bench").addTensors(spec).build();
    ExecutorService pool = Executors.newFixedThreadPool(writers);
    System.out.printf("checkpoint of %,d floats x 3 files (param, m, v) = %,d bytes; %d writer/reader threads;"
        + " %d cores; load average %.2f%n", n, bytes, writers, Runtime.getRuntime().availableProcessors(),
        ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
    try {
      for (int round = 1; round <= rounds; round++) {
        Path root = dir.resolve("round-" + round);
        // ---- write
        long t0 = System.nanoTime();
        PendingCheckpoint pending = CheckpointLayout.create(root, round, plan);
        List<Future<List<FileRange>>> futures = new ArrayList<>();
        for (int w = 0; w < writers; w++) {
          int from = (int) ((long) n * w / writers);
          int to = (int) ((long) n * (w + 1) / writers);
          futures.add(pool.submit(() -> {
            List<FileRange> out = new ArrayList<>();
            try (ShardWriter sw = ShardWriter.open(pending.dir())) {
              for (CheckpointFile f : plan.files()) {
                out.add(sw.write(f.tensor(), f.slot(), from, values, from, to - from));
              }
            }
            return out;
          }));
        }
        List<FileRange> ranges = Collections.synchronizedList(new ArrayList<>());
        for (Future<List<FileRange>> f : futures) {
          ranges.addAll(f.get());
        }
        Path committed = ManifestWriter.commit(pending, model, ranges);
        double write = seconds(t0);

        // ---- restore (read every range into memory, check all CRCs in one pass)
        float[] into = new float[n];
        long t1 = System.nanoTime();
        try (CheckpointReader reader = CheckpointReader.open(root)) {
          List<Future<List<FileRange>>> reads = new ArrayList<>();
          for (int w = 0; w < writers; w++) {
            int from = (int) ((long) n * w / writers);
            int to = (int) ((long) n * (w + 1) / writers);
            reads.add(pool.submit(() -> {
              List<FileRange> out = new ArrayList<>();
              for (CheckpointFile f : plan.files()) {
                out.add(reader.readRange(f.tensor(), f.slot(), from, into, from, to - from));
              }
              return out;
            }));
          }
          List<FileRange> all = new ArrayList<>();
          for (Future<List<FileRange>> f : reads) {
            all.addAll(f.get());
          }
          reader.checkRanges(all);
        }
        double restore = seconds(t1);
        for (int i = 0; i < n; i += 9973) {
          if (Float.floatToRawIntBits(into[i]) != Float.floatToRawIntBits(values[i])) {
            throw new AssertionError("restored value " + i + " differs");
          }
        }

        // ---- verify alone
        long t2 = System.nanoTime();
        try (CheckpointReader reader = CheckpointReader.open(committed)) {
          reader.verify();
        }
        double verify = seconds(t2);

        // ---- plain copies of the same bytes
        Path copies = Files.createDirectories(root.resolve("copy"));
        long t3 = System.nanoTime();
        copy(committed, copies, plan, true);
        double copySync = seconds(t3);
        Path copies2 = Files.createDirectories(root.resolve("copy-nosync"));
        long t4 = System.nanoTime();
        copy(committed, copies2, plan, false);
        double copyNoSync = seconds(t4);

        System.out.printf("round %d: write %7.1f MB/s (%.2f s) | restore %7.1f MB/s (%.2f s) | verify %7.1f MB/s"
                + " | copy+fsync %7.1f MB/s (%.2f s) | copy %7.1f MB/s | write/copy+fsync %.2f | restore/copy+fsync"
                + " %.2f | restore/copy %.2f%n",
            round, mb(bytes, write), write, mb(bytes, restore), restore, mb(bytes, verify), mb(bytes, copySync),
            copySync, mb(bytes, copyNoSync), copySync / write, copySync / restore, copyNoSync / restore);
        Io.deleteRecursively(root);
      }
    } finally {
      pool.shutdownNow();
    }
    System.out.printf("load average at the end %.2f%n", ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
  }

  private static void copy(Path from, Path to, CheckpointPlan plan, boolean sync) throws IOException {
    for (CheckpointFile f : plan.files()) {
      try (FileChannel in = FileChannel.open(from.resolve(f.path()), StandardOpenOption.READ);
          FileChannel out = FileChannel.open(to.resolve(f.path()), StandardOpenOption.CREATE_NEW,
              StandardOpenOption.WRITE)) {
        long size = in.size();
        long pos = 0;
        while (pos < size) {
          pos += in.transferTo(pos, size - pos, out);
        }
        if (sync) {
          out.force(true);
        }
      }
    }
  }

  private static double seconds(long start) {
    return (System.nanoTime() - start) / 1e9;
  }

  private static double mb(long bytes, double seconds) {
    return bytes / 1e6 / seconds;
  }
}
