package dev.shardopt.bench.cluster;

import static dev.shardopt.dsl.Optimizers.adam;
import static dev.shardopt.dsl.Optimizers.sgd;

import dev.shardopt.client.ClientOptions;
import dev.shardopt.client.ModelOptions;
import dev.shardopt.client.PulledParameters;
import dev.shardopt.client.RemoteModel;
import dev.shardopt.client.ShardoptCluster;
import dev.shardopt.client.TensorDef;
import dev.shardopt.client.Tensors;
import dev.shardopt.client.Trainer;
import dev.shardopt.embedded.EmbeddedCluster;
import dev.shardopt.embedded.ShardoptLocal;
import dev.shardopt.engine.kernel.AdamKernel;
import dev.shardopt.engine.kernel.ParallelApply;
import dev.shardopt.engine.kernel.StepScalars;
import dev.shardopt.worker.server.WorkerServer;
import java.io.IOException;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Cluster throughput of Shardopt on one machine, every server on 127.0.0.1, in one JVM run:
 *
 * <ol type="a">
 *   <li>the baseline: gRPC client streams and server streams of 4 MiB {@code bytes} messages on
 *       loopback (raw, and with the Worker service's protobuf types), see {@link LoopbackSink};
 *   <li>push and pull of a 64 MiB model (one tensor of 16,777,216 fp32, {@code sgd(0.01)}, one
 *       trainer, SYNC) through one worker, as a ratio to (a);
 *   <li>the same through 2 and 4 workers, against raw gRPC in the same shape (W concurrent streams
 *       of 64/W MiB to W servers, rows c2-a and c4-a);
 *   <li>one synchronous step of a 100M-parameter {@code adam(1e-3)} model (4 tensors of 25M), two
 *       trainers, two workers, against the bound (bytes moved / baseline throughput) + kernel time,
 *       the kernel ({@link AdamKernel} over all parameters through {@link ParallelApply}) timed in
 *       the same run;
 *   <li>(i) the raw baseline of (a), and the Worker service's types, on gRPC's <b>in-process</b>
 *       transport instead of Netty on loopback ({@link LoopbackSink#inProcess()}); and (i5) the push
 *       and pull of (b) through an embedded cluster as {@code ShardoptLocal} makes it, whose own calls
 *       take the in-process transport ({@code InProcessEndpoints}). (b), (c), (d) and (s) keep every
 *       call on the loopback sockets ({@code loopbackOnly()}), as between processes;
 *   <li>(s) the sync step of (d) with 1, 2 and 4 workers on this machine ({@code scale-params}, 25M by
 *       default), each against its own bound computed as (d)'s, with the concurrent baseline of its
 *       shape (2 trainers × W workers).
 * </ol>
 *
 * <p>Measurements are interleaved: each round runs every scenario of a part once, in a fixed order,
 * and a figure is the median over the measured rounds (after the warm-up rounds). So the baseline
 * and what is compared with it see the same background load and the same JIT state, which matters
 * on a small machine shared with other work. Part one is (a), (b), (c), (i); part two is (d) with
 * its kernel and its own interleaved baseline runs; part three is (s), likewise. Every wait has a
 * timeout, and a watchdog halts the JVM if the whole run overruns. Progress goes to stderr, the
 * markdown report to stdout (and to {@code --out=FILE}).
 *
 * <p>Options ({@code --name=value}): {@code reps} (40), {@code warmup} (25: with no warm-up, the raw
 * baselines and Shardopt's push and pull alike kept getting faster for 20-30 rounds while the JIT
 * compiled them; see {@code rounds}), {@code d-reps} (7),
 * {@code d-warmup} (2), {@code adam-params} (100000000), {@code sections} (a,b,c,p,k,d,i,s; p: the
 * single-thread cost of each step a push or pull adds to the transport, see {@link CopyCosts}),
 * {@code scale-params} (25000000), {@code s-reps} (5), {@code s-warmup} (1),
 * {@code timeout-min} (30), {@code out} (none), {@code rounds} (false: true lists every measured
 * round's time under the table), {@code chunk-bytes} (4194304: the chunk size of
 * Shardopt's pushes and pulls in (b)-(d), for what-if runs; the baseline always uses 4 MiB).
 */
public final class ClusterBenchmark {
  static final int CHUNK_BYTES = LoopbackSink.CHUNK_BYTES;
  /** (b), (c): 16,777,216 fp32 = 64 MiB. */
  static final int MODEL_B_ELEMENTS = 16_777_216;
  static final long MODEL_B_BYTES = (long) MODEL_B_ELEMENTS * Float.BYTES;
  static final int MESSAGES_64MIB = (int) (MODEL_B_BYTES / CHUNK_BYTES);
  /** The concurrent baseline: 2 servers x 2 streams, as (d)'s 2 trainers x 2 workers. */
  static final int CONCURRENT_SERVERS = 2;
  static final int STREAMS_PER_SERVER = 2;
  static final int CONCURRENT_STREAMS = CONCURRENT_SERVERS * STREAMS_PER_SERVER;
  /**
   * Heap bytes one parameter of (d) needs at the peak: on the client 2 gradients, 2 pulled copies
   * and the previous 2 (garbage); on the workers parameters, 2 Adam moments, the trainer mean, 2
   * received gradients and 2 pull snapshots; and the kernel measurement's 4 arrays: 18 floats.
   */
  static final long D_BYTES_PER_PARAM = 72;
  /**
   * (s) keeps 3 clusters (1, 2, 4 workers) alive at once to interleave them: the workers' 8 floats
   * per parameter three times, the client's 6 (gradients shared) and the kernel's 4.
   */
  static final long S_BYTES_PER_PARAM = 136;
  static final int[] SCALE_WORKERS = {1, 2, 4};
  static final double D_HEAP_HEADROOM = 1.5;
  static final double TARGET_B = 0.9;
  /** (c): against the raw baseline of the same shape (W streams of 64/W MiB to W servers). */
  static final double TARGET_C = 0.8;
  static final double TARGET_D = 1.3;
  static final long OP_TIMEOUT_MS = 120_000;

  private ClusterBenchmark() {}

  // ---------------------------------------------------------------------------------- options

  record Options(int reps, int warmup, int dReps, int dWarmup, long adamParams, List<String> sections,
      int timeoutMinutes, Path out, int chunkBytes, long scaleParams, int sReps, int sWarmup, boolean rounds) {
    private static final List<String> KEYS = List.of("reps", "warmup", "d-reps", "d-warmup", "adam-params", "sections",
        "timeout-min", "out", "chunk-bytes", "scale-params", "s-reps", "s-warmup", "rounds");

    static Options parse(String[] args) {
      Map<String, String> m = new LinkedHashMap<>();
      for (String a : args) {
        if (!a.startsWith("--") || !a.contains("=") || !KEYS.contains(a.substring(2, a.indexOf('=')))) {
          throw new IllegalArgumentException("unknown option '" + a + "'; options: --" + String.join("=, --", KEYS) + "=");
        }
        m.put(a.substring(2, a.indexOf('=')), a.substring(a.indexOf('=') + 1));
      }
      Options o = new Options(
          Integer.parseInt(m.getOrDefault("reps", "40")),
          Integer.parseInt(m.getOrDefault("warmup", "25")),
          Integer.parseInt(m.getOrDefault("d-reps", "7")),
          Integer.parseInt(m.getOrDefault("d-warmup", "2")),
          Long.parseLong(m.getOrDefault("adam-params", "100000000")),
          List.of(m.getOrDefault("sections", "a,b,c,p,k,d,i,s").split(",")),
          Integer.parseInt(m.getOrDefault("timeout-min", "30")),
          m.containsKey("out") ? Path.of(m.get("out")) : null,
          Integer.parseInt(m.getOrDefault("chunk-bytes", String.valueOf(dev.shardopt.rpc.TensorBytes.DEFAULT_CHUNK_BYTES))),
          Long.parseLong(m.getOrDefault("scale-params", "25000000")),
          Integer.parseInt(m.getOrDefault("s-reps", "5")),
          Integer.parseInt(m.getOrDefault("s-warmup", "1")),
          Boolean.parseBoolean(m.getOrDefault("rounds", "false")));
      if (o.reps < 1 || o.reps > 100 || o.warmup < 0 || o.warmup > 100 || o.dReps < 1 || o.dReps > 20
          || o.dWarmup < 0 || o.dWarmup > 20 || o.adamParams < 4 * 8192 || o.timeoutMinutes < 1
          || o.chunkBytes < 4096 || o.chunkBytes > CHUNK_BYTES || o.chunkBytes % 4 != 0
          || o.scaleParams < 4 * 8192 || o.sReps < 1 || o.sReps > 20 || o.sWarmup < 0 || o.sWarmup > 20
          || !List.of("true", "false").contains(m.getOrDefault("rounds", "false"))) {
        throw new IllegalArgumentException("out-of-range option in " + m);
      }
      return o;
    }

    boolean has(String section) {
      return sections.contains(section);
    }

    /** The Shardopt client's options: the defaults, with {@code --chunk-bytes} when given. */
    ClientOptions client() {
      return ClientOptions.defaults().chunkBytes(chunkBytes);
    }

    /**
     * An embedded cluster of {@code workers} with the default settings, and {@code --chunk-bytes} for
     * pulls, every call on the loopback sockets as between processes.
     */
    EmbeddedCluster.Builder cluster(int workers) {
      return EmbeddedCluster.builder().workers(workers).worker((i, c) -> c.withChunkBytes(chunkBytes)).loopbackOnly();
    }

    /** As {@link #cluster}, with the embedded default: the cluster's own calls in-process. */
    EmbeddedCluster.Builder inProcessCluster(int workers) {
      return EmbeddedCluster.builder().workers(workers).worker((i, c) -> c.withChunkBytes(chunkBytes));
    }
  }

  // ---------------------------------------------------------------------------------- results

  /** Everything measured, for the report; a series is null when its section did not run. */
  static final class Results {
    Series rawPush, rawPull, protoPush, protoPull, concPush, concPull;
    /** a1 and a2 with a receiver that keeps the data in a 64 MiB array: what storing it costs the transport. */
    Series keepPush, keepPull;
    /** (i): a1-a4 on gRPC's in-process transport. */
    Series inProcPush, inProcPull, inProcProtoPush, inProcProtoPull;
    /** (i5): b1 through an embedded cluster on the in-process transport. */
    Series embeddedPush, embeddedPull, embeddedPullAlloc, embeddedSettle;
    final Map<Integer, Series> push = new LinkedHashMap<>();
    final Map<Integer, Series> pull = new LinkedHashMap<>();
    /** The same pulls into fresh arrays (pullParameters), for the difference against pullInto in the same run. */
    final Map<Integer, Series> pullAlloc = new LinkedHashMap<>();
    final Map<Integer, Series> settle = new LinkedHashMap<>();
    /** (c)'s matching raw baselines: W concurrent streams of 64/W MiB to W servers, by W. */
    final Map<Integer, Series> shapedPush = new LinkedHashMap<>();
    final Map<Integer, Series> shapedPull = new LinkedHashMap<>();
    long dParams;
    boolean dReduced;
    Series dRawPush, dRawPull, dConcPush, dConcPull;
    Series kernel, validateScan, trainerMean, statistics;
    Series dStep, dPush, dCompute, dPull;
    List<Series> copyCosts = List.of();
    long sParams;
    boolean sReduced;
    Series sRawPush, sRawPull, sKernel;
    final Map<Integer, ScaleRow> scale = new LinkedHashMap<>();
    String loadAtStart = Environment.load();
    final List<String> notes = new ArrayList<>();
  }

  /** The series of one sync step configuration: the step, its three phases. */
  record StepSeries(Series step, Series push, Series compute, Series pull) {}

  /** (s) with {@code workers} workers: its step, and the concurrent raw baseline of its shape. */
  record ScaleRow(int workers, Series concPush, Series concPull, StepSeries steps) {}

  /** One scenario's run within a round; {@code measure} is false in warm-up rounds. */
  interface Scenario {
    void run(boolean measure) throws Exception;
  }

  public static void main(String[] args) {
    BenchProcess.runAndExit(() -> run(Options.parse(args)));
  }

  static void run(Options o) throws Exception {
    Thread watchdog = BenchProcess.startWatchdog("ClusterBenchmark", o.timeoutMinutes());

    Results r = new Results();
    log("machine: " + Environment.describe());
    try (LoopbackSink s1 = new LoopbackSink(); LoopbackSink s2 = new LoopbackSink();
        LoopbackSink inProcess = o.has("i") ? LoopbackSink.inProcess() : null) {
      if (o.has("a") || o.has("b") || o.has("c") || o.has("i")) {
        partOne(o, r, s1, s2, inProcess);
      }
      if (o.has("p")) {
        r.copyCosts = CopyCosts.measure(2, o.reps());
      }
      if (o.has("k") || o.has("d")) {
        partTwo(o, r, s1, s2);
      }
      if (o.has("s")) {
        partScaling(o, r, s1, s2);
      }
    }
    String report = Report.markdown(o, r);
    System.out.println(report);
    if (o.out() != null) {
      Files.writeString(o.out(), report);
    }
    watchdog.interrupt();
  }

  // ---------------------------------------------------------------------------------- (a) (b) (c)

  static void partOne(Options o, Results r, LoopbackSink s1, LoopbackSink s2, LoopbackSink inProcess) throws Exception {
    List<Scenario> round = new ArrayList<>();
    if (o.has("a") || o.has("i")) {
      // (i) is read against the Netty rows a1-a4, so they run in the same rounds whenever it does.
      r.rawPush = new Series("a1", "baseline push: raw `bytes` client stream, 1 stream", MODEL_B_BYTES);
      r.rawPull = new Series("a2", "baseline pull: raw `bytes` server stream, 1 stream", MODEL_B_BYTES);
      r.protoPush = new Series("a3", "baseline push: Worker.Push proto types, discarding handler", MODEL_B_BYTES);
      r.protoPull = new Series("a4", "baseline pull: Worker.Pull proto types, pre-encoded chunks", MODEL_B_BYTES);
      addSingle(round, s1, r.rawPush, r.rawPull, r.protoPush, r.protoPull);
    }
    if (o.has("a")) {
      r.keepPush = new Series("a1-keep", "a1, the server copying each message to its place in a 64 MiB array "
          + "(as a worker keeps a gradient) instead of a reused 4 MiB one", MODEL_B_BYTES);
      r.keepPull = new Series("a2-keep", "a2, the client copying each message to its place in a 64 MiB array "
          + "(as a trainer keeps its parameters)", MODEL_B_BYTES);
      round.add(m -> timed(r.keepPush, m, () -> await(s1.keepPush(MESSAGES_64MIB, OP_TIMEOUT_MS))));
      round.add(m -> timed(r.keepPull, m, () -> await(s1.keepPull(MESSAGES_64MIB, OP_TIMEOUT_MS))));
      r.concPush = new Series("a5", "baseline push: raw, " + CONCURRENT_STREAMS + " concurrent streams to 2 servers (aggregate)",
          MODEL_B_BYTES * CONCURRENT_STREAMS);
      r.concPull = new Series("a6", "baseline pull: raw, " + CONCURRENT_STREAMS + " concurrent streams from 2 servers (aggregate)",
          MODEL_B_BYTES * CONCURRENT_STREAMS);
      addConcurrent(round, List.of(s1, s2), STREAMS_PER_SERVER, r.concPush, r.concPull);
    }
    if (o.has("i")) {
      r.inProcPush = new Series("i1", "in-process transport: a1 (raw client stream, 1 stream)", MODEL_B_BYTES);
      r.inProcPull = new Series("i2", "in-process transport: a2 (raw server stream, 1 stream)", MODEL_B_BYTES);
      r.inProcProtoPush = new Series("i3", "in-process transport: a3 (Worker.Push proto types; no serialization)", MODEL_B_BYTES);
      r.inProcProtoPull = new Series("i4", "in-process transport: a4 (Worker.Pull proto types; no serialization)", MODEL_B_BYTES);
      addSingle(round, inProcess, r.inProcPush, r.inProcPull, r.inProcProtoPush, r.inProcProtoPull);
    }
    List<TransferCluster> clusters = new ArrayList<>();
    List<LoopbackSink> moreSinks = new ArrayList<>();
    try {
      if (o.has("c")) {
        moreSinks.add(new LoopbackSink());
        moreSinks.add(new LoopbackSink());
        List<LoopbackSink> sinks = List.of(s1, s2, moreSinks.get(0), moreSinks.get(1));
        for (int w : new int[] {2, 4}) {
          String shape = w + " concurrent streams of " + 64 / w + " MiB to " + w + " servers (the shape of c" + w + ")";
          Series push = new Series("c" + w + "-a-push", "baseline push: raw, " + shape, MODEL_B_BYTES);
          Series pull = new Series("c" + w + "-a-pull", "baseline pull: raw, " + shape, MODEL_B_BYTES);
          r.shapedPush.put(w, push);
          r.shapedPull.put(w, pull);
          addShaped(round, sinks.subList(0, w), MESSAGES_64MIB / w, push, pull);
        }
      }
      if (o.has("i")) {
        TransferCluster c = TransferCluster.start(o, o.inProcessCluster(1));
        clusters.add(c);
        r.embeddedPush = new Series("i5-push", "b1-push through the embedded cluster's in-process transport (ShardoptLocal)",
            MODEL_B_BYTES);
        r.embeddedPull = new Series("i5-pull", "b1-pull through the embedded cluster's in-process transport", MODEL_B_BYTES);
        r.embeddedPullAlloc = new Series("i5-pull-alloc", "(info) the same pull into fresh arrays", MODEL_B_BYTES);
        r.embeddedSettle = new Series("i5-step", "(info) push acknowledged → step completed on the worker", 0);
        round.add(m -> c.runOnce(m, r.embeddedPush, r.embeddedPull, r.embeddedPullAlloc, r.embeddedSettle));
      }
      for (int w : new int[] {1, 2, 4}) {
        if ((w == 1 && o.has("b")) || (w > 1 && o.has("c"))) {
          TransferCluster c = TransferCluster.start(o, o.cluster(w));
          clusters.add(c);
          String tag = (w == 1 ? "b" : "c") + w;
          String ws = w + " worker" + (w == 1 ? "" : "s");
          Series push = new Series(tag + "-push", "push 64 MiB (16,777,216 fp32, sgd(0.01), SYNC, 1 trainer), " + ws, MODEL_B_BYTES);
          Series pull = new Series(tag + "-pull", "pull 64 MiB after the step completed, into the trainer's arrays (pullInto), "
              + ws, MODEL_B_BYTES);
          Series pullAlloc = new Series(tag + "-pull-alloc", "(info) the same pull into fresh arrays (pullParameters), " + ws,
              MODEL_B_BYTES);
          Series settle = new Series(tag + "-step", "(info) push acknowledged → step completed on every worker", 0);
          r.push.put(w, push);
          r.pull.put(w, pull);
          r.pullAlloc.put(w, pullAlloc);
          r.settle.put(w, settle);
          round.add(m -> c.runOnce(m, push, pull, pullAlloc, settle));
        }
      }
      rounds("part one (a, b, c)", o.warmup(), o.reps(), round);
    } finally {
      for (TransferCluster c : clusters) {
        c.close();
      }
      for (LoopbackSink s : moreSinks) {
        s.close();
      }
    }
  }

  /** One raw stream of {@code messages} 4 MiB messages to (then from) each of {@code sinks} at once, timed as one. */
  static void addShaped(List<Scenario> round, List<LoopbackSink> sinks, int messages, Series push, Series pull) {
    round.add(m -> timed(push, m, () -> sinks.stream().map(s -> s.rawPush(messages, OP_TIMEOUT_MS)).toList()
        .stream().mapToLong(ClusterBenchmark::await).sum()));
    round.add(m -> timed(pull, m, () -> sinks.stream().map(s -> s.rawPull(messages, OP_TIMEOUT_MS)).toList()
        .stream().mapToLong(ClusterBenchmark::await).sum()));
  }

  /** Single-stream push and pull on {@code s}: raw, then with the Worker service's types. */
  static void addSingle(List<Scenario> round, LoopbackSink s, Series rawPush, Series rawPull, Series protoPush,
      Series protoPull) {
    round.add(m -> timed(rawPush, m, () -> await(s.rawPush(MESSAGES_64MIB, OP_TIMEOUT_MS))));
    round.add(m -> timed(protoPush, m, () -> await(s.protoPush(MESSAGES_64MIB, OP_TIMEOUT_MS))));
    round.add(m -> timed(rawPull, m, () -> await(s.rawPull(MESSAGES_64MIB, OP_TIMEOUT_MS))));
    round.add(m -> timed(protoPull, m, () -> await(s.protoPull(MESSAGES_64MIB, OP_TIMEOUT_MS))));
  }

  /** {@code perSink} concurrent raw pushes (then pulls) of 64 MiB to each of {@code sinks}, timed as one. */
  static void addConcurrent(List<Scenario> round, List<LoopbackSink> sinks, int perSink, Series push, Series pull) {
    round.add(m -> timed(push, m, () -> {
      List<CompletableFuture<Long>> fs = new ArrayList<>();
      for (LoopbackSink s : sinks) {
        for (int k = 0; k < perSink; k++) {
          fs.add(s.rawPush(MESSAGES_64MIB, OP_TIMEOUT_MS));
        }
      }
      return fs.stream().mapToLong(ClusterBenchmark::await).sum();
    }));
    round.add(m -> timed(pull, m, () -> {
      List<CompletableFuture<Long>> fs = new ArrayList<>();
      for (LoopbackSink s : sinks) {
        for (int k = 0; k < perSink; k++) {
          fs.add(s.rawPull(MESSAGES_64MIB, OP_TIMEOUT_MS));
        }
      }
      return fs.stream().mapToLong(ClusterBenchmark::await).sum();
    }));
  }

  /** Raw single-stream push and pull on s1, and the concurrent ones over s1 and s2. */
  static void addBaselines(List<Scenario> round, LoopbackSink s1, LoopbackSink s2,
      Series rawPush, Series rawPull, Series concPush, Series concPull) {
    round.add(m -> timed(rawPush, m, () -> await(s1.rawPush(MESSAGES_64MIB, OP_TIMEOUT_MS))));
    round.add(m -> timed(rawPull, m, () -> await(s1.rawPull(MESSAGES_64MIB, OP_TIMEOUT_MS))));
    addConcurrent(round, List.of(s1, s2), STREAMS_PER_SERVER, concPush, concPull);
  }

  /**
   * An embedded cluster with the 64 MiB sgd model. Built exactly as {@code ShardoptLocal.start(builder,
   * options)} builds it, keeping a handle on the embedded servers so that the benchmark can see
   * when a step has completed on every worker without pulling.
   */
  static final class TransferCluster implements AutoCloseable {
    final EmbeddedCluster embedded;
    final ShardoptCluster cluster;
    final RemoteModel model;
    final Trainer trainer;
    final Map<String, float[]> gradient = Map.of("w", gradient(MODEL_B_ELEMENTS, 1));
    /** The trainer's parameters, allocated once: every pull assembles into them. */
    final Map<String, float[]> params = Map.of("w", new float[MODEL_B_ELEMENTS]);
    long step;

    private TransferCluster(Options o, EmbeddedCluster embedded) {
      this.embedded = embedded;
      this.cluster = new ShardoptCluster(embedded.coordinatorAddress(), o.client(), embedded,
          embedded.inProcessEndpoints().orElse(null));
      this.model = cluster.createModel(ModelOptions.named("bench-" + embedded.workers().size() + "w")
          .pipeline(sgd(0.01)).trainers(1).sync().tensors(Tensors.of("w", MODEL_B_ELEMENTS)));
      this.trainer = model.trainer(0, 1);
    }

    /** The 64 MiB model on a cluster from {@code builder}. */
    static TransferCluster start(Options o, EmbeddedCluster.Builder builder) {
      EmbeddedCluster e = builder.start();
      try {
        return new TransferCluster(o, e);
      } catch (RuntimeException ex) {
        e.close();
        throw ex;
      }
    }

    /**
     * Push step s (timed until every worker has acknowledged), wait until every worker has
     * completed it (timed apart as "settle": statistics, the coordinator's barrier, the kernel),
     * pull version s + 1 (timed until assembled) into the kept arrays, and once more into fresh
     * ones (the two in alternating order, so that neither always comes first).
     */
    void runOnce(boolean measure, Series push, Series pull, Series pullAlloc, Series settle) throws Exception {
      long s = step++;
      CpuMeter cpu = CpuMeter.start();
      long t0 = System.nanoTime();
      trainer.push(s, gradient);
      long t1 = System.nanoTime();
      CpuMeter.Usage pushCpu = cpu.stop();
      awaitStep(embedded, model.name(), s + 1);
      long t2 = System.nanoTime();
      if (s % 2 == 0) {
        timedPull(measure, pull, s + 1, true);
        timedPull(measure, pullAlloc, s + 1, false);
      } else {
        timedPull(measure, pullAlloc, s + 1, false);
        timedPull(measure, pull, s + 1, true);
      }
      if (measure) {
        push.add((t1 - t0) / 1e9, pushCpu);
        settle.add((t2 - t1) / 1e9, null);
      }
    }

    private void timedPull(boolean measure, Series series, long version, boolean into) {
      CpuMeter cpu = CpuMeter.start();
      long t0 = System.nanoTime();
      PulledParameters p = into ? trainer.pullInto(version, params) : trainer.pullParameters(version);
      long t1 = System.nanoTime();
      CpuMeter.Usage usage = cpu.stop();
      if (p.step() != version || p.get("w").length != MODEL_B_ELEMENTS) {
        throw new IllegalStateException("pull returned step " + p.step() + " with " + p.get("w").length + " values");
      }
      if (measure) {
        series.add((t1 - t0) / 1e9, usage);
      }
    }

    @Override
    public void close() {
      cluster.close();
    }
  }

  /** Waits until every worker of {@code embedded} has completed {@code steps} steps of {@code model}. */
  static void awaitStep(EmbeddedCluster embedded, String model, long steps) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(OP_TIMEOUT_MS);
    for (WorkerServer w : embedded.workers()) {
      while (w.store().get(model).version() < steps) {
        if (System.nanoTime() - deadline > 0) {
          throw new IllegalStateException(model + " did not complete step " + steps + " within " + OP_TIMEOUT_MS + " ms");
        }
        TimeUnit.MICROSECONDS.sleep(200);
      }
    }
  }

  // ---------------------------------------------------------------------------------- (d)

  /**
   * The largest parameter count up to {@code wanted} (a multiple of 4 blocks) whose step and kernel
   * measurement fit the heap ({@link #D_BYTES_PER_PARAM} times a GC headroom).
   */
  static long fitAdamParams(long wanted, Results r) {
    long heap = Runtime.getRuntime().maxMemory();
    long fits = (long) (heap / (D_BYTES_PER_PARAM * D_HEAP_HEADROOM));
    long unit = 4L * 8192;
    long n = Math.min(wanted, fits / unit * unit);
    n = Math.min(n, 4L * (TensorDef.MAX_ELEMENTS / 8192) * 8192);
    if (n < wanted) {
      r.notes.add(String.format(Locale.ROOT, "(d) REDUCED: %,d parameters do not fit a %.1f GiB heap "
          + "(about %d bytes per parameter at the peak, x%.1f headroom); measured %,d instead.",
          wanted, heap / (double) (1L << 30), D_BYTES_PER_PARAM, D_HEAP_HEADROOM, n));
      r.dReduced = true;
    }
    r.dParams = n;
    return n;
  }

  /**
   * Part two, in rounds of: the raw baselines (single and concurrent, push and pull), one
   * AdamKernel update over all parameters through a ParallelApply of every core (as the two
   * workers, one kernel thread each, run it on their halves at once), and one synchronous step.
   * Then, once, the worker's other full passes of a step, for the breakdown.
   */
  static void partTwo(Options o, Results r, LoopbackSink s1, LoopbackSink s2) throws Exception {
    int n = Math.toIntExact(fitAdamParams(o.adamParams(), r));
    int cores = Runtime.getRuntime().availableProcessors();
    List<Scenario> round = new ArrayList<>();
    r.dRawPush = new Series("d-a1", "baseline push, raw, 1 stream (re-run in part two)", MODEL_B_BYTES);
    r.dRawPull = new Series("d-a2", "baseline pull, raw, 1 stream (re-run in part two)", MODEL_B_BYTES);
    r.dConcPush = new Series("d-a5", "baseline push, raw, " + CONCURRENT_STREAMS + " concurrent streams (re-run in part two)",
        MODEL_B_BYTES * CONCURRENT_STREAMS);
    r.dConcPull = new Series("d-a6", "baseline pull, raw, " + CONCURRENT_STREAMS + " concurrent streams (re-run in part two)",
        MODEL_B_BYTES * CONCURRENT_STREAMS);
    addBaselines(round, s1, s2, r.dRawPush, r.dRawPull, r.dConcPush, r.dConcPull);

    ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, cores - 1), daemon("bench-kernel"));
    ParallelApply parallel = new ParallelApply(pool, cores);
    float[][] arrays = new float[4][];
    SyncStepCluster d = null;
    try {
      if (o.has("k")) {
        log(String.format(Locale.ROOT, "(k) AdamKernel over %,d elements, ParallelApply parallelism %d", n, cores));
        AdamKernel adam = new AdamKernel(0.9, 0.999, 1e-8, false, false);
        arrays[0] = new float[n];
        arrays[1] = gradient(n, 2);
        float[][] state = adam.newState(n);
        arrays[2] = state[0];
        arrays[3] = state[1];
        long[] k = {0};
        r.kernel = new Series("k1", String.format(Locale.ROOT,
            "AdamKernel over %,d elements through ParallelApply(%d threads); data = 28 B/element of memory traffic", n, cores),
            28L * n);
        Series kernel = r.kernel;
        parallel.apply(adam, arrays[0], arrays[1], state, StepScalars.of(++k[0], 1e-3)); // compile
        round.add(m -> timed(kernel, m, () -> {
          parallel.apply(adam, arrays[0], arrays[1], state, StepScalars.of(++k[0], 1e-3));
          return kernel.bytes;
        }));
      }
      if (o.has("d")) {
        System.gc();
        d = new SyncStepCluster(o, n, 2, "bench-d", syncGradients(n));
        String label = String.format(Locale.ROOT, "sync step, adam(1e-3), %,d params (4 × %,d)%s, 2 trainers, 2 workers: "
            + "both pushes start → both pulls of the next version done", n, n / 4, r.dReduced ? " [REDUCED to fit the heap]" : "");
        r.dStep = new Series("d", label, 16L * n);
        r.dPush = new Series("d-push", "(info) phase: release → both pushes acknowledged", 8L * n);
        r.dCompute = new Series("d-compute", "(info) phase: last push acknowledged → step completed on both workers", 0);
        r.dPull = new Series("d-pull", "(info) phase: step completed → both pulls assembled", 8L * n);
        SyncStepCluster dd = d;
        StepSeries ds = new StepSeries(r.dStep, r.dPush, r.dCompute, r.dPull);
        round.add(m -> dd.runOnce(m, ds));
      }
      rounds("part two (k, d)", o.dWarmup(), o.dReps(), round);
      if (d != null) {
        d.close();
        d = null;
      }
      if (o.has("k")) {
        extraPasses(r, parallel, pool, cores, arrays[1], n);
      }
    } finally {
      if (d != null) {
        d.close();
      }
      pool.shutdownNow();
    }
  }

  /** The worker's other full passes over a step's data, each timed 3 times after 1 warm-up. */
  static void extraPasses(Results r, ParallelApply parallel, ExecutorService pool, int cores, float[] grad, int n)
      throws Exception {
    float[] grad2 = gradient(n, 3);
    float[] mean = new float[n];
    r.validateScan = new Series("k2", "(info) worker: non-finite scan of both received gradients (validate)", 8L * n);
    r.trainerMean = new Series("k3", "(info) worker: trainer mean of 2 gradients (copy, add, divide; 1 thread per worker)", 12L * n);
    r.statistics = new Series("k4", "(info) worker: step statistics (non-finite scan + block sums of squares)", 4L * n);
    rounds("worker passes", 1, 3, List.of(
        m -> timed(r.validateScan, m, () -> {
          if (parallel.firstNonFinite(grad) >= 0 || parallel.firstNonFinite(grad2) >= 0) {
            throw new IllegalStateException("non-finite gradient");
          }
          return r.validateScan.bytes;
        }),
        m -> timed(r.trainerMean, m, () -> {
          trainerMean(pool, cores, grad, grad2, mean);
          return r.trainerMean.bytes;
        }),
        m -> timed(r.statistics, m, () -> {
          if (parallel.firstNonFinite(mean) >= 0 || parallel.blockPartials(mean, Float.POSITIVE_INFINITY).length == 0) {
            throw new IllegalStateException("non-finite mean");
          }
          return r.statistics.bytes;
        })));
  }

  /** ShardGroup's trainer mean for K = 2 (copy, add, divide) on {@code cores} threads over slices. */
  private static void trainerMean(ExecutorService pool, int cores, float[] a, float[] b, float[] out) {
    int n = out.length;
    List<Future<?>> fs = new ArrayList<>();
    for (int c = 1; c < cores; c++) {
      int from = (int) ((long) n * c / cores);
      int to = (int) ((long) n * (c + 1) / cores);
      fs.add(pool.submit(() -> meanRange(a, b, out, from, to)));
    }
    meanRange(a, b, out, 0, (int) ((long) n / cores));
    for (Future<?> f : fs) {
      await(f);
    }
  }

  private static void meanRange(float[] a, float[] b, float[] out, int from, int to) {
    System.arraycopy(a, from, out, from, to - from);
    for (int j = from; j < to; j++) {
      out[j] += b[j];
    }
    float kf = 2;
    for (int j = from; j < to; j++) {
      out[j] /= kf;
    }
  }

  /** The two trainers' gradients of a sync-step model of n parameters (4 tensors of n / 4). */
  static List<Map<String, float[]>> syncGradients(int n) {
    List<Map<String, float[]>> grads = new ArrayList<>();
    for (int k = 0; k < 2; k++) {
      Map<String, float[]> g = new LinkedHashMap<>();
      for (int t = 0; t < 4; t++) {
        g.put("layer" + t, gradient(n / 4, 10 * k + t));
      }
      grads.add(g);
    }
    return grads;
  }

  /**
   * The Adam model of (d) and (s): 4 tensors of n / 4, 2 trainers, SYNC, on its own embedded cluster
   * of {@code workers} workers. A run releases both trainer threads at once (each pushes step s,
   * then pulls version s + 1) and ends when both pulls are assembled; a polling thread (this one)
   * notes when every worker has completed the step.
   */
  static final class SyncStepCluster implements AutoCloseable {
    final EmbeddedCluster embedded;
    final ShardoptCluster cluster;
    final RemoteModel model;
    final Trainer[] trainer;
    final List<Map<String, float[]>> grads;
    /** Each trainer's parameters, allocated once: every pull assembles into them (pullInto). */
    final List<Map<String, float[]>> params = new ArrayList<>();
    final ExecutorService threads = Executors.newFixedThreadPool(2, daemon("bench-trainer"));
    long step;

    SyncStepCluster(Options o, int n, int workers, String name, List<Map<String, float[]>> grads) {
      int perTensor = n / 4;
      log(String.format(Locale.ROOT, "(%s) adam, 4 x %,d params, 2 trainers, %d workers", name, perTensor, workers));
      this.grads = grads;
      embedded = o.cluster(workers).start();
      cluster = new ShardoptCluster(embedded.coordinatorAddress(), o.client(), embedded);
      List<TensorDef> tensors = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        tensors.add(Tensors.of("layer" + t, perTensor));
      }
      model = cluster.createModel(ModelOptions.named(name).pipeline(adam(1e-3)).trainers(2).sync().tensors(tensors));
      trainer = new Trainer[] {model.trainer(0, 2), model.trainer(1, 2)};
      for (int k = 0; k < 2; k++) {
        Map<String, float[]> p = new LinkedHashMap<>();
        for (int t = 0; t < 4; t++) {
          p.put("layer" + t, new float[perTensor]);
        }
        params.add(p);
      }
    }

    void runOnce(boolean measure, StepSeries r) throws Exception {
      long s = step++;
      CountDownLatch go = new CountDownLatch(1);
      long[] pushed = new long[2];
      long[] pulled = new long[2];
      List<Future<?>> fs = new ArrayList<>();
      for (int k = 0; k < 2; k++) {
        int rank = k;
        fs.add(threads.submit(() -> {
          go.await();
          trainer[rank].push(s, grads.get(rank));
          pushed[rank] = System.nanoTime();
          PulledParameters p = trainer[rank].pullInto(s + 1, params.get(rank));
          pulled[rank] = System.nanoTime();
          if (p.step() != s + 1 || p.tensors().size() != 4) {
            throw new IllegalStateException("pull returned step " + p.step());
          }
          return null;
        }));
      }
      Thread.sleep(20); // let both threads reach the latch
      CpuMeter cpu = CpuMeter.start();
      long start = System.nanoTime();
      go.countDown();
      awaitStep(embedded, model.name(), s + 1);
      long stepped = System.nanoTime();
      for (Future<?> f : fs) {
        await(f);
      }
      CpuMeter.Usage usage = cpu.stop();
      long pushesDone = Math.max(pushed[0], pushed[1]);
      long pullsDone = Math.max(pulled[0], pulled[1]);
      log(String.format(Locale.ROOT, "%s step %d: %.0f ms (pushes %.0f, step %.0f, pulls %.0f)%s; %s", r.step().id, s,
          (pullsDone - start) / 1e6, (pushesDone - start) / 1e6, (stepped - pushesDone) / 1e6,
          (pullsDone - Math.max(stepped, pushesDone)) / 1e6, measure ? "" : " [warm-up]", usage.describe(1)));
      if (measure) {
        r.step().add((pullsDone - start) / 1e9, usage);
        r.push().add((pushesDone - start) / 1e9, null);
        r.compute().add(Math.max(0, stepped - pushesDone) / 1e9, null);
        r.pull().add((pullsDone - Math.max(stepped, pushesDone)) / 1e9, null);
      }
    }

    @Override
    public void close() {
      threads.shutdownNow();
      cluster.close();
    }
  }

  // ---------------------------------------------------------------------------------- (s)

  /** The largest parameter count up to {@code wanted} whose three (s) clusters and kernel fit the heap. */
  static long fitScaleParams(long wanted, Results r) {
    long heap = Runtime.getRuntime().maxMemory();
    long unit = 4L * 8192;
    long n = Math.min(wanted, (long) (heap / (S_BYTES_PER_PARAM * D_HEAP_HEADROOM)) / unit * unit);
    n = Math.min(n, 4L * (TensorDef.MAX_ELEMENTS / 8192) * 8192);
    if (n < wanted) {
      r.notes.add(String.format(Locale.ROOT, "(s) REDUCED: %,d parameters do not fit a %.1f GiB heap "
          + "(about %d bytes per parameter with the three clusters alive, x%.1f headroom); measured %,d instead.",
          wanted, heap / (double) (1L << 30), S_BYTES_PER_PARAM, D_HEAP_HEADROOM, n));
      r.sReduced = true;
    }
    r.sParams = n;
    return n;
  }

  /**
   * Part three, (s): the sync step of (d) on 1, 2 and 4 workers (three embedded clusters, alive at
   * once, the same gradients), in rounds of: the raw single-stream baselines, for each worker count
   * the concurrent raw baseline of its shape (2 trainers x W workers: 2W streams of 64 MiB to W
   * servers), the kernel over all parameters on every core, and one step on each cluster. Each
   * cluster's bound is computed as (d)'s, with its own concurrent baseline.
   */
  static void partScaling(Options o, Results r, LoopbackSink s1, LoopbackSink s2) throws Exception {
    System.gc();
    int n = Math.toIntExact(fitScaleParams(o.scaleParams(), r));
    int cores = Runtime.getRuntime().availableProcessors();
    ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, cores - 1), daemon("bench-kernel"));
    List<SyncStepCluster> clusters = new ArrayList<>();
    try (LoopbackSink s3 = new LoopbackSink(); LoopbackSink s4 = new LoopbackSink()) {
      List<LoopbackSink> sinks = List.of(s1, s2, s3, s4);
      List<Scenario> round = new ArrayList<>();
      r.sRawPush = new Series("s-a1", "baseline push, raw, 1 stream (re-run in part three)", MODEL_B_BYTES);
      r.sRawPull = new Series("s-a2", "baseline pull, raw, 1 stream (re-run in part three)", MODEL_B_BYTES);
      Series rp = r.sRawPush;
      Series rl = r.sRawPull;
      round.add(m -> timed(rp, m, () -> await(s1.rawPush(MESSAGES_64MIB, OP_TIMEOUT_MS))));
      round.add(m -> timed(rl, m, () -> await(s1.rawPull(MESSAGES_64MIB, OP_TIMEOUT_MS))));
      for (int w : SCALE_WORKERS) {
        int streams = 2 * w;
        Series cp = new Series("s-c" + w + "-push", String.format(Locale.ROOT,
            "baseline push, raw, %d concurrent streams to %d server%s (2 trainers × %d)", streams, w, w == 1 ? "" : "s", w),
            MODEL_B_BYTES * streams);
        Series cl = new Series("s-c" + w + "-pull", String.format(Locale.ROOT,
            "baseline pull, raw, %d concurrent streams from %d server%s", streams, w, w == 1 ? "" : "s"),
            MODEL_B_BYTES * streams);
        addConcurrent(round, sinks.subList(0, w), 2, cp, cl);
        String label = String.format(Locale.ROOT, "sync step, adam(1e-3), %,d params (4 × %,d)%s, 2 trainers, %d worker%s",
            n, n / 4, r.sReduced ? " [REDUCED to fit the heap]" : "", w, w == 1 ? "" : "s");
        StepSeries steps = new StepSeries(new Series("s" + w, label, 16L * n),
            new Series("s" + w + "-push", "(info) phase: release → both pushes acknowledged", 8L * n),
            new Series("s" + w + "-compute", "(info) phase: last push acknowledged → step completed on every worker", 0),
            new Series("s" + w + "-pull", "(info) phase: step completed → both pulls assembled", 8L * n));
        r.scale.put(w, new ScaleRow(w, cp, cl, steps));
      }
      ParallelApply parallel = new ParallelApply(pool, cores);
      AdamKernel adam = new AdamKernel(0.9, 0.999, 1e-8, false, false);
      float[] params = new float[n];
      float[] grad = gradient(n, 2);
      float[][] state = adam.newState(n);
      long[] k = {0};
      r.sKernel = new Series("s-k1", String.format(Locale.ROOT,
          "AdamKernel over %,d elements through ParallelApply(%d threads) (re-run in part three)", n, cores), 28L * n);
      Series kernel = r.sKernel;
      parallel.apply(adam, params, grad, state, StepScalars.of(++k[0], 1e-3)); // compile
      round.add(m -> timed(kernel, m, () -> {
        parallel.apply(adam, params, grad, state, StepScalars.of(++k[0], 1e-3));
        return kernel.bytes;
      }));
      List<Map<String, float[]>> grads = syncGradients(n);
      for (int w : SCALE_WORKERS) {
        SyncStepCluster c = new SyncStepCluster(o, n, w, "bench-s" + w, grads);
        clusters.add(c);
        StepSeries steps = r.scale.get(w).steps();
        round.add(m -> c.runOnce(m, steps));
      }
      rounds("part three (s)", o.sWarmup(), o.sReps(), round);
    } finally {
      for (SyncStepCluster c : clusters) {
        c.close();
      }
      pool.shutdownNow();
    }
  }

  // ---------------------------------------------------------------------------------- helpers

  /** {@code warmup} unmeasured rounds, then {@code reps} measured ones, each running every scenario once. */
  static void rounds(String name, int warmup, int reps, List<Scenario> round) throws Exception {
    for (int i = 0; i < warmup + reps; i++) {
      log(name + ": round " + (i + 1) + " of " + (warmup + reps) + (i < warmup ? " (warm-up)" : ""));
      for (Scenario s : round) {
        s.run(i >= warmup);
      }
    }
  }

  /** Runs {@code op} (which returns the bytes it moved) once, timed and CPU-metered. */
  static void timed(Series s, boolean measure, Callable<Long> op) throws Exception {
    CpuMeter cpu = CpuMeter.start();
    long t0 = System.nanoTime();
    long moved = op.call();
    long t1 = System.nanoTime();
    CpuMeter.Usage usage = cpu.stop();
    if (s.bytes > 0 && moved != s.bytes) {
      throw new IllegalStateException(s.id + " moved " + moved + " bytes, expected " + s.bytes);
    }
    if (measure) {
      s.add((t1 - t0) / 1e9, usage);
    }
  }

  static <T> T await(Future<T> f) {
    try {
      return f.get(OP_TIMEOUT_MS, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    } catch (ExecutionException e) {
      throw new IllegalStateException(e.getCause());
    } catch (TimeoutException e) {
      f.cancel(true);
      throw new IllegalStateException("no result within " + OP_TIMEOUT_MS + " ms", e);
    }
  }

  /** A finite, non-trivial gradient (small values of both signs). */
  static float[] gradient(int n, int seed) {
    float[] g = new float[n];
    for (int i = 0; i < n; i++) {
      g[i] = (((i + seed * 7919) % 2001) - 1000) * 1e-6f;
    }
    return g;
  }

  static java.util.concurrent.ThreadFactory daemon(String name) {
    return r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    };
  }

  /** Options of the form {@code --name=value}, by name, in order. */
  static Map<String, String> options(String[] args) {
    Map<String, String> o = new java.util.LinkedHashMap<>();
    for (String a : args) {
      if (!a.startsWith("--") || !a.contains("=")) {
        throw new IllegalArgumentException("options are --name=value, got " + a);
      }
      o.put(a.substring(2, a.indexOf('=')), a.substring(a.indexOf('=') + 1));
    }
    return o;
  }

  static void log(String line) {
    System.err.println("[bench] " + line);
  }

  /** The machine, the JVM and its GC, for the report. */
  static final class Environment {
    static String describe() {
      return Runtime.getRuntime().availableProcessors() + " cores (" + cpuModel() + "), "
          + System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version")
          + ", max heap " + String.format(Locale.ROOT, "%.1f GiB", Runtime.getRuntime().maxMemory() / (double) (1L << 30))
          + ", GC " + String.join(" + ", ManagementFactory.getGarbageCollectorMXBeans().stream()
              .map(GarbageCollectorMXBean::getName).toList())
          + ", JVM flags " + ManagementFactory.getRuntimeMXBean().getInputArguments()
          + (ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent()
              ? ", vector module loaded (the workers' reductions as ./shardopt runs them)"
              : ", NO vector module: the workers reduce on plain loops, unlike ./shardopt's (add --add-modules=jdk.incubator.vector)");
    }

    static String cpuModel() {
      try {
        for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
          if (line.startsWith("model name")) {
            return line.substring(line.indexOf(':') + 1).trim();
          }
        }
      } catch (IOException | RuntimeException e) {
        // not Linux
      }
      return System.getProperty("os.arch");
    }

    static String load() {
      try {
        return Files.readString(Path.of("/proc/loadavg")).trim();
      } catch (IOException | RuntimeException e) {
        return "n/a";
      }
    }
  }
}
