package dev.shardopt.bench.cluster;

import static dev.shardopt.bench.cluster.ClusterBenchmark.await;
import static dev.shardopt.bench.cluster.ClusterBenchmark.log;

import dev.shardopt.bench.cluster.ReplicaNode.Plan;
import io.grpc.ManagedChannel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * The two ways a replicated shard group's gradient can reach its R copies (issue 9 §1), as data
 * flows over raw gRPC on loopback, timed against each other in the same run:
 *
 * <ul>
 *   <li><b>fan-out</b> (what Shardopt does): each of K trainers streams its gradient of G bytes to
 *       every one of the R copies, K × R concurrent streams; every copy, once it holds all K, reduces
 *       them to the trainer mean and acknowledges. The step ends when every stream is acknowledged.
 *   <li><b>chain</b> (not built in Shardopt): the K trainers stream only to the primary; once it
 *       holds all K it reduces them to the mean, streams that mean (G bytes) to each backup over its
 *       own channels, and acknowledges the trainers only when every backup has acknowledged.
 * </ul>
 *
 * <p>Every copy is its own {@link ReplicaNode} (Netty server, executor), every trainer has its own
 * channel to every copy and the primary its own to every backup, as separate processes would; all
 * run in this JVM on this machine's cores. No optimizer kernel runs: both flows would run the same
 * one on every copy. Each round runs every (flow, R) once, the two flows' order flipped every round;
 * figures are medians over the rounds after the warm-up ones. Every step checks the bytes each
 * replica received and sampled values of each copy's mean (poisoned before the step) against the
 * trainers' gradients.
 *
 * <p>Options ({@code --name=value}): {@code trainers} (2), {@code replicas} (2,3), {@code g-mib} (64:
 * the gradient per trainer per shard group), {@code reps} (9), {@code warmup} (3), {@code timeout-min}
 * (10), {@code out} (none).
 */
public final class ReplicationFlowBenchmark {
  static final long OP_TIMEOUT_MS = 120_000;
  private static final int SAMPLES = 4096;

  private ReplicationFlowBenchmark() {}

  record Options(int trainers, List<Integer> replicas, int gMiB, int reps, int warmup, int timeoutMinutes, Path out) {
    private static final List<String> KEYS = List.of("trainers", "replicas", "g-mib", "reps", "warmup", "timeout-min", "out");

    static Options parse(String[] args) {
      Map<String, String> m = ClusterBenchmark.options(args);
      for (String k : m.keySet()) {
        if (!KEYS.contains(k)) {
          throw new IllegalArgumentException("unknown option --" + k + "; options: --" + String.join("=, --", KEYS) + "=");
        }
      }
      Options o = new Options(
          Integer.parseInt(m.getOrDefault("trainers", "2")),
          Arrays.stream(m.getOrDefault("replicas", "2,3").split(",")).map(Integer::valueOf).toList(),
          Integer.parseInt(m.getOrDefault("g-mib", "64")),
          Integer.parseInt(m.getOrDefault("reps", "9")),
          Integer.parseInt(m.getOrDefault("warmup", "3")),
          Integer.parseInt(m.getOrDefault("timeout-min", "10")),
          m.containsKey("out") ? Path.of(m.get("out")) : null);
      if (o.trainers < 1 || o.trainers > 8) {
        throw new IllegalArgumentException("--trainers=" + o.trainers + ": allowed 1 to 8");
      }
      for (int r : o.replicas) {
        if (r < 2 || r > 5) {
          throw new IllegalArgumentException("--replicas=" + r + ": allowed 2 to 5 (a chain needs a backup)");
        }
      }
      if (o.gMiB < 1 || o.gMiB > 512) {
        throw new IllegalArgumentException("--g-mib=" + o.gMiB + ": allowed 1 to 512");
      }
      if (o.reps < 1 || o.reps > 100 || o.warmup < 0 || o.warmup > 100 || o.timeoutMinutes < 1) {
        throw new IllegalArgumentException("--reps 1-100, --warmup 0-100, --timeout-min >= 1; got " + m);
      }
      return o;
    }

    int floats() {
      return gMiB << 18; // MiB / 4 bytes
    }

    long gBytes() {
      return (long) floats() * Float.BYTES;
    }

    int maxReplicas() {
      return replicas.stream().mapToInt(Integer::intValue).max().orElseThrow();
    }
  }

  /** The figures of one (flow, R): the step, its phases, and the loopback interface's bytes per step. */
  static final class FlowSeries {
    final Series step;
    final Series received;
    final Series reduce;
    final Series forward;
    final Series tail;
    final List<Double> loBytes = new ArrayList<>();
    final long trainerBytes;
    final long counted;

    FlowSeries(Series step, Series received, Series reduce, Series forward, Series tail, long trainerBytes, long counted) {
      this.step = step;
      this.received = received;
      this.reduce = reduce;
      this.forward = forward;
      this.tail = tail;
      this.trainerBytes = trainerBytes;
      this.counted = counted;
    }
  }

  public static void main(String[] args) {
    BenchProcess.runAndExit(() -> run(Options.parse(args)));
  }

  static void run(Options o) throws Exception {
    Thread watchdog = BenchProcess.startWatchdog("ReplicationFlowBenchmark", o.timeoutMinutes());

    String loadBefore = ClusterBenchmark.Environment.load();
    log("machine: " + ClusterBenchmark.Environment.describe());
    int k = o.trainers();
    int n = o.floats();
    float[][] grads = new float[k][];
    for (int t = 0; t < k; t++) {
      grads[t] = ClusterBenchmark.gradient(n, t + 1);
    }
    int[] at = sampleIndices(n);
    Map<String, FlowSeries> series = new LinkedHashMap<>();
    try (Topology topo = new Topology(k, o.maxReplicas(), n)) {
      for (int r : o.replicas()) {
        series.put("f" + r, newSeries("f" + r, "fan-out", r, o, (long) r * o.gBytes(), (long) k * r * o.gBytes()));
        series.put("c" + r, newSeries("c" + r, "chain", r, o, o.gBytes(), (long) (k + r - 1) * o.gBytes()));
      }
      long step = 0;
      for (int round = 0; round < o.warmup() + o.reps(); round++) {
        boolean measure = round >= o.warmup();
        log("round " + (round + 1) + " of " + (o.warmup() + o.reps()) + (measure ? "" : " (warm-up)"));
        for (int r : o.replicas()) {
          for (int i = 0; i < 2; i++) {
            boolean chain = (round % 2 == 0) == (i == 1); // fan-out first in even rounds, chain first in odd
            FlowSeries s = series.get((chain ? "c" : "f") + r);
            if (chain) {
              topo.chain(r, step++, grads, at, measure, s);
            } else {
              topo.fanOut(r, step++, grads, at, measure, s);
            }
          }
        }
      }
    }
    String report = report(o, series, loadBefore);
    System.out.println(report);
    if (o.out() != null) {
      Files.writeString(o.out(), report);
    }
    watchdog.interrupt();
  }

  private static FlowSeries newSeries(String id, String flow, int r, Options o, long trainerBytes, long counted) {
    int k = o.trainers();
    String what = flow.equals("chain")
        ? String.format(Locale.ROOT, "chain, K = %d, R = %d: %d streams of %d MiB to the primary, mean, %d stream%s of %d MiB "
            + "primary → backup, backups' ack → trainers' ack", k, r, k, o.gMiB(), r - 1, r == 2 ? "" : "s", o.gMiB())
        : String.format(Locale.ROOT, "fan-out, K = %d, R = %d: %d concurrent streams of %d MiB, mean on every copy, "
            + "every copy's ack", k, r, k * r, o.gMiB());
    return new FlowSeries(
        new Series(id, what, counted),
        new Series(id + "-in", "(info) phase: start → " + (flow.equals("chain") ? "primary" : "last copy") + " holds all "
            + k + " gradients", (long) k * o.gBytes() * (flow.equals("chain") ? 1 : r)),
        new Series(id + "-mean", "(info) phase: trainer mean of " + k + " × " + o.gMiB() + " MiB, 1 thread"
            + (flow.equals("chain") ? " (primary)" : " (slowest copy)"), 0),
        flow.equals("chain") ? new Series(id + "-fwd", "(info) phase: primary → backups stream(s) until acknowledged",
            (long) (r - 1) * o.gBytes()) : null,
        flow.equals("chain") ? new Series(id + "-ack", "(info) phase: backups' ack → trainers hold their acks", 0) : null,
        trainerBytes, counted);
  }

  /** The replicas, the trainers' channels to each, and the primary's channels to the backups. */
  static final class Topology implements AutoCloseable {
    final int k;
    final int floats;
    final List<ReplicaNode> nodes = new ArrayList<>();
    final ManagedChannel[][] trainer; // [trainer][replica]
    final List<ManagedChannel> primaryToBackup = new ArrayList<>(); // index j - 1 for replica j
    final List<ManagedChannel> all = new ArrayList<>();

    Topology(int k, int replicas, int floats) throws IOException {
      this.k = k;
      this.floats = floats;
      try {
        for (int j = 0; j < replicas; j++) {
          nodes.add(new ReplicaNode("replica" + j, k, floats));
        }
        trainer = new ManagedChannel[k][replicas];
        for (int t = 0; t < k; t++) {
          for (int j = 0; j < replicas; j++) {
            trainer[t][j] = nodes.get(j).channel();
            all.add(trainer[t][j]);
          }
        }
        for (int j = 1; j < replicas; j++) {
          ManagedChannel c = nodes.get(j).channel();
          primaryToBackup.add(c);
          all.add(c);
        }
      } catch (IOException | RuntimeException e) {
        close();
        throw e;
      }
    }

    void fanOut(int r, long step, float[][] grads, int[] at, boolean measure, FlowSeries s) {
      for (int j = 0; j < r; j++) {
        nodes.get(j).expect(new Plan(step, k, k, List.of(), OP_TIMEOUT_MS));
        poison(nodes.get(j), at);
      }
      long lo0 = loopbackBytes();
      CpuMeter cpu = CpuMeter.start();
      long t0 = System.nanoTime();
      List<CompletableFuture<Long>> acks = new ArrayList<>();
      for (int t = 0; t < k; t++) {
        for (int j = 0; j < r; j++) {
          acks.add(ReplicaNode.send(trainer[t][j], step, t, grads[t], OP_TIMEOUT_MS));
        }
      }
      long acked = acks.stream().mapToLong(ClusterBenchmark::await).sum();
      long t1 = System.nanoTime();
      CpuMeter.Usage usage = cpu.stop();
      long lo1 = loopbackBytes();
      long counted = 0;
      long lastIn = 0;
      long slowestMean = 0;
      for (int j = 0; j < r; j++) {
        ReplicaNode node = nodes.get(j);
        check(node.dataBytes() == (long) k * floats * Float.BYTES, node.name + " received " + node.dataBytes());
        checkMean(node.name + " mean", node.mean(), grads, at);
        counted += node.dataBytes();
        lastIn = Math.max(lastIn, node.allReceivedNanos() - t0);
        slowestMean = Math.max(slowestMean, node.reducedNanos() - node.allReceivedNanos());
      }
      check(acked == counted && counted == s.counted, "fan-out step " + step + ": acked " + acked + ", counted " + counted);
      log(String.format(Locale.ROOT, "%s step %d: %.0f ms (all in %.0f, mean %.0f); lo %.1f MB%s", s.step.id, step,
          (t1 - t0) / 1e6, lastIn / 1e6, slowestMean / 1e6, (lo1 - lo0) / 1e6, measure ? "" : " [warm-up]"));
      if (measure) {
        s.step.add((t1 - t0) / 1e9, usage);
        s.received.add(lastIn / 1e9, null);
        s.reduce.add(slowestMean / 1e9, null);
        s.loBytes.add((double) (lo1 - lo0));
      }
    }

    void chain(int r, long step, float[][] grads, int[] at, boolean measure, FlowSeries s) {
      ReplicaNode primary = nodes.get(0);
      primary.expect(new Plan(step, k, k, primaryToBackup.subList(0, r - 1), OP_TIMEOUT_MS));
      poison(primary, at);
      for (int j = 1; j < r; j++) {
        nodes.get(j).expect(new Plan(step, 1, 0, List.of(), OP_TIMEOUT_MS));
        poison(nodes.get(j), at);
      }
      long lo0 = loopbackBytes();
      CpuMeter cpu = CpuMeter.start();
      long t0 = System.nanoTime();
      List<CompletableFuture<Long>> acks = new ArrayList<>();
      for (int t = 0; t < k; t++) {
        acks.add(ReplicaNode.send(trainer[t][0], step, t, grads[t], OP_TIMEOUT_MS));
      }
      long acked = acks.stream().mapToLong(ClusterBenchmark::await).sum();
      long t1 = System.nanoTime();
      CpuMeter.Usage usage = cpu.stop();
      long lo1 = loopbackBytes();
      long gBytes = (long) floats * Float.BYTES;
      check(primary.dataBytes() == k * gBytes, "primary received " + primary.dataBytes());
      checkMean("primary mean", primary.mean(), grads, at);
      long counted = primary.dataBytes();
      for (int j = 1; j < r; j++) {
        ReplicaNode b = nodes.get(j);
        check(b.dataBytes() == gBytes, b.name + " received " + b.dataBytes());
        checkMean(b.name + " copy of the mean", b.slot(0), grads, at);
        counted += b.dataBytes();
      }
      check(acked == k * gBytes && counted == s.counted, "chain step " + step + ": acked " + acked + ", counted " + counted);
      long in = primary.allReceivedNanos() - t0;
      long mean = primary.reducedNanos() - primary.allReceivedNanos();
      long fwd = primary.forwardedNanos() - primary.reducedNanos();
      long tail = t1 - primary.forwardedNanos();
      log(String.format(Locale.ROOT, "%s step %d: %.0f ms (all in %.0f, mean %.0f, forward %.0f, ack %.0f); lo %.1f MB%s",
          s.step.id, step, (t1 - t0) / 1e6, in / 1e6, mean / 1e6, fwd / 1e6, tail / 1e6, (lo1 - lo0) / 1e6,
          measure ? "" : " [warm-up]"));
      if (measure) {
        s.step.add((t1 - t0) / 1e9, usage);
        s.received.add(in / 1e9, null);
        s.reduce.add(mean / 1e9, null);
        s.forward.add(fwd / 1e9, null);
        s.tail.add(tail / 1e9, null);
        s.loBytes.add((double) (lo1 - lo0));
      }
    }

    /** NaN at the sampled positions of every slot and the mean: a stale value cannot pass the check. */
    private static void poison(ReplicaNode node, int[] at) {
      for (int i : at) {
        node.mean()[i] = Float.NaN;
        for (int t = 0; t < node.slotCount(); t++) {
          node.slot(t)[i] = Float.NaN;
        }
      }
    }

    @Override
    public void close() {
      for (ManagedChannel c : all) {
        c.shutdownNow();
      }
      for (ReplicaNode n : nodes) {
        n.close();
      }
    }
  }

  /** The trainer mean at the sampled positions, computed as the replica computes it (sum in order, divide). */
  static void checkMean(String what, float[] got, float[][] grads, int[] at) {
    for (int i : at) {
      float e = grads[0][i];
      for (int t = 1; t < grads.length; t++) {
        e += grads[t][i];
      }
      e /= grads.length;
      if (Float.floatToRawIntBits(got[i]) != Float.floatToRawIntBits(e)) {
        throw new IllegalStateException(what + "[" + i + "] = " + got[i] + ", expected " + e);
      }
    }
  }

  private static int[] sampleIndices(int n) {
    int[] at = new int[Math.min(SAMPLES, n)];
    for (int i = 0; i < at.length; i++) {
      at[i] = (int) ((long) n * i / at.length) + (i % 7); // spread over every chunk, not chunk-aligned
    }
    at[at.length - 1] = n - 1;
    return Arrays.stream(at).map(i -> Math.min(i, n - 1)).toArray();
  }

  private static void check(boolean ok, String what) {
    if (!ok) {
      throw new IllegalStateException(what);
    }
  }

  /**
   * Bytes received on the loopback interface so far (/proc/net/dev): every byte the transport put on
   * loopback, headers included, but also any other process's loopback traffic; -1 if unreadable.
   */
  static long loopbackBytes() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/net/dev"))) {
        String t = line.trim();
        if (t.startsWith("lo:")) {
          return Long.parseLong(t.substring(3).trim().split("\\s+")[0]);
        }
      }
    } catch (IOException | RuntimeException e) {
      // not Linux
    }
    return -1;
  }

  // ---------------------------------------------------------------------------------- report

  static String report(Options o, Map<String, FlowSeries> series, String loadBefore) {
    StringBuilder b = new StringBuilder();
    List<Series> all = new ArrayList<>();
    b.append("Machine: ").append(ClusterBenchmark.Environment.describe()).append(".  \n");
    b.append("Load average (1, 5, 15 min; running/total tasks) at the start of the run: ").append(loadBefore)
        .append("; at the end: ").append(ClusterBenchmark.Environment.load()).append(".  \n");
    b.append(String.format(Locale.ROOT, "K = %d trainers, G = %d MiB (%,d fp32) per trainer per shard group, chunks of %,d "
        + "bytes. Medians of %d interleaved rounds after %d warm-up rounds (the two flows' order flipped every round). "
        + "Data/op: gradient bytes received by all replicas per step, counted by the replicas. CPU/op: process CPU per "
        + "step (every thread, GC and JIT included; %d cores give at most %d ms of CPU per ms).%n%n",
        o.trainers(), o.gMiB(), o.floats(), FlowMessages.CHUNK_BYTES, o.reps(), o.warmup(),
        Runtime.getRuntime().availableProcessors(), Runtime.getRuntime().availableProcessors()));
    b.append("| Row | Measurement | Data/op | Median | Min – max | MB/s | CPU/op | Alloc/op | Ratio | Target | Met |\n");
    b.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|\n");
    for (int r : o.replicas()) {
      FlowSeries f = series.get("f" + r);
      FlowSeries c = series.get("c" + r);
      Report.row(b, all, f.step, "1.00 (ref.)", "", "");
      Report.row(b, all, f.received, "", "", "");
      Report.row(b, all, f.reduce, "", "", "");
      Report.row(b, all, c.step, Report.times(c.step.median() / f.step.median()) + " f" + r, "", "");
      Report.row(b, all, c.received, "", "", "");
      Report.row(b, all, c.reduce, "", "", "");
      Report.row(b, all, c.forward, "", "", "");
      Report.row(b, all, c.tail, "", "", "");
    }
    b.append("\nBytes per step (MB = 10^6 bytes). Counted: gradient bytes the replicas received (exact; each stream also "
        + "carries a 12-byte header, and gRPC adds 5 bytes per message). Loopback: the `lo` interface's received bytes "
        + "during the step (/proc/net/dev), TCP/IP and HTTP/2 framing included, but also any other process's loopback "
        + "traffic in that time: median over the measured steps.\n\n");
    b.append("| Flow | R | Sent by each trainer | Received by the primary | by each other copy | Counted, all replicas "
        + "| Loopback interface | Chain ÷ fan-out: bytes counted | step time (medians) | step time (median of the "
        + "rounds' ratios) | CPU per step |\n");
    b.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    long g = o.gBytes();
    int k = o.trainers();
    for (int r : o.replicas()) {
      FlowSeries f = series.get("f" + r);
      FlowSeries c = series.get("c" + r);
      b.append(String.format(Locale.ROOT, "| fan-out | %d | %s | %s | %s | %s | %s | | | | |%n", r, Report.mb(f.trainerBytes),
          Report.mb(k * g), Report.mb(k * g), Report.mb(f.counted), Report.mb((long) median(f.loBytes))));
      double[] cs = c.step.samples().seconds();
      double[] fs = f.step.samples().seconds();
      List<Double> paired = new ArrayList<>();
      for (int i = 0; i < Math.min(cs.length, fs.length); i++) {
        paired.add(cs[i] / fs[i]); // the same round: the same load on the machine
      }
      b.append(String.format(Locale.ROOT, "| chain | %d | %s | %s | %s | %s | %s | %.2f | %.2f | %.2f | %.2f |%n", r,
          Report.mb(c.trainerBytes), Report.mb(k * g), Report.mb(g), Report.mb(c.counted),
          Report.mb((long) median(c.loBytes)), c.counted / (double) f.counted, c.step.median() / f.step.median(),
          median(paired), c.step.cpuMillisPerOp() / f.step.cpuMillisPerOp()));
    }
    b.append("\nWhere the CPU went, per step: process CPU, heap allocated by Java threads, time the collectors "
        + "report, then CPU ms by thread group (groups under 2% left out):\n\n");
    for (Series s : all) {
      if (s.metered()) {
        b.append("- ").append(s.id).append(": ").append(s.cpu().describe(s.count())).append('\n');
      }
    }
    b.append("\nEvery step's samples: ");
    for (FlowSeries s : series.values()) {
      b.append(s.step.samples().describe()).append("; ");
    }
    b.append('\n');
    return b.toString();
  }

  private static double median(List<Double> v) {
    if (v.isEmpty()) {
      return Double.NaN;
    }
    double[] s = v.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }
}
