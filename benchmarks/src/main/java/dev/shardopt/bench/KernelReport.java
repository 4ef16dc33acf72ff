package dev.shardopt.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.openjdk.jmh.results.BenchmarkResult;
import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.results.format.ResultFormatType;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * Runs {@link KernelBench}, {@link ClippedKernelBench}, {@link Nd4jAdamBench} and {@link
 * ReductionBench} with short settings and prints a markdown table: for each rule and thread count, parameters per second, bytes
 * moved per parameter, the effective bandwidth and its ratio to the triad baseline's at the same
 * thread count: bytes as the code reads and writes them (the triad 12 B an element), and again
 * with the triad's write-allocate read counted (16 B; the kernels write only arrays they read).
 *
 * <pre>
 *   OMP_NUM_THREADS=1 java -cp benchmarks/target/benchmarks.jar dev.shardopt.bench.KernelReport \
 *       [--out FILE.md] [--json FILE.json] [--rules sgd,adam,...] [--threads 1,2] [--no-nd4j] [--no-clipped]
 *       [--no-reductions]
 *       [--warmup N] [--iterations N] [--time SECONDS] [--jvm-arg ARG]...
 *   java -cp benchmarks/target/benchmarks.jar dev.shardopt.bench.KernelReport --from-json FILE.json
 *       (re-renders the table of an earlier run's JSON)
 * </pre>
 */
public final class KernelReport {

  private KernelReport() {}

  public static void main(String[] args) throws RunnerException, IOException {
    String out = null;
    String json = null;
    String rules = null;
    String threads = null;
    boolean nd4j = true;
    boolean clipped = true;
    boolean reductions = true;
    int warmup = 2;
    int iterations = 3;
    int seconds = 1;
    List<String> jvmArgs = new ArrayList<>();
    String fromJson = null;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--out" -> out = args[++i];
        case "--json" -> json = args[++i];
        case "--rules" -> rules = args[++i];
        case "--threads" -> threads = args[++i];
        case "--no-nd4j" -> nd4j = false;
        case "--no-clipped" -> clipped = false;
        case "--no-reductions" -> reductions = false;
        case "--warmup" -> warmup = Integer.parseInt(args[++i]);
        case "--iterations" -> iterations = Integer.parseInt(args[++i]);
        case "--time" -> seconds = Integer.parseInt(args[++i]);
        case "--jvm-arg" -> jvmArgs.add(args[++i]);
        case "--from-json" -> fromJson = args[++i];
        default -> throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    if (fromJson != null) {
      // Only re-render the table of an earlier run's JSON (written with --json).
      String report = "Rates and ratios from each configuration's best measured iteration.\n\n"
          + table(measured(Path.of(fromJson)));
      System.out.println(report);
      if (out != null) {
        Files.writeString(Path.of(out), report);
      }
      return;
    }
    String omp = System.getenv("OMP_NUM_THREADS");
    if (nd4j && !"1".equals(omp)) {
      System.err.println("warning: OMP_NUM_THREADS is " + omp + ", not 1; the ND4J row may use more"
          + " than one thread (its Environment is also capped at 1 thread in the benchmark)");
    }

    ChainedOptionsBuilder options = new OptionsBuilder()
        .include(only(KernelBench.class))
        .forks(1)
        .warmupIterations(warmup)
        .warmupTime(TimeValue.seconds(seconds))
        .measurementIterations(iterations)
        .measurementTime(TimeValue.seconds(seconds))
        .shouldFailOnError(true);
    if (rules != null) {
      List<String> ids = new ArrayList<>(List.of(rules.split(",")));
      if (!ids.contains("triad")) {
        ids.add("triad"); // the ratios need the baseline
      }
      // Applies to ClippedKernelBench too, which then also measures a (clip-free) triad.
      options.param("rule", ids.toArray(String[]::new));
    }
    if (threads != null) {
      options.param("threads", threads.split(","));
    }
    if (clipped) {
      options.include(only(ClippedKernelBench.class));
    }
    if (nd4j) {
      options.include(only(Nd4jAdamBench.class));
    }
    if (reductions) {
      options.include("^" + Pattern.quote(ReductionBench.class.getName() + ".reduce") + "$");
    }
    if (!jvmArgs.isEmpty()) {
      options.jvmArgsAppend(jvmArgs.toArray(String[]::new));
    }
    if (json != null) {
      options.resultFormat(ResultFormatType.JSON).result(json);
    }
    String loadBefore = loadAverage();
    long started = System.nanoTime();
    Collection<RunResult> results = new Runner(options.build()).run();
    String run = fmt("Suite: %.0f s; load average (1/5/15 min) before: %s, after: %s%n",
        (System.nanoTime() - started) / 1e9, loadBefore, loadAverage());

    String report = machine() + run + "Rates and ratios from each configuration's best measured"
        + " iteration.\n\n" + table(measured(results));
    System.out.println();
    System.out.println(report);
    if (out != null) {
      Files.writeString(Path.of(out), report);
    }
  }

  /** An include pattern matching exactly {@code bench}'s update method. */
  private static String only(Class<?> bench) {
    return "^" + Pattern.quote(bench.getName() + ".update") + "$";
  }

  /**
   * One configuration: the mean and its error over the measured iterations, and the best (fastest)
   * iteration, from which the rates and ratios are computed: on a shared machine the other tenants
   * only ever slow an iteration down, so the best one is the closest to what the code can do.
   */
  private record Row(
      String rule, int threads, double msPerOp, double msError, double bestMs, int bytes,
      int bytesWa) {
    double paramsPerSecond() {
      return KernelBench.N / (bestMs / 1e3);
    }

    double gbPerSecond() {
      return paramsPerSecond() * bytes / 1e9;
    }

    double gbPerSecondWa() {
      return paramsPerSecond() * bytesWa / 1e9;
    }
  }

  /** One JMH result, from a run or from its JSON file: ms/op mean, error and best iteration. */
  record Measured(String benchmark, Map<String, String> params, double mean, double error,
      double best) {}

  static List<Measured> measured(Collection<RunResult> results) {
    List<Measured> out = new ArrayList<>();
    for (RunResult r : results) {
      Result<?> primary = r.getPrimaryResult();
      double best = Double.POSITIVE_INFINITY;
      for (BenchmarkResult b : r.getBenchmarkResults()) {
        for (IterationResult it : b.getIterationResults()) {
          best = Math.min(best, it.getPrimaryResult().getScore());
        }
      }
      Map<String, String> params = new HashMap<>();
      for (String key : r.getParams().getParamsKeys()) {
        params.put(key, r.getParams().getParam(key));
      }
      out.add(new Measured(r.getParams().getBenchmark(), params, primary.getScore(),
          primary.getScoreError(), best));
    }
    return out;
  }

  /** Reads the results of a JMH run from its JSON file ({@code -rf json}). */
  static List<Measured> measured(Path jmhJson) throws IOException {
    List<Measured> out = new ArrayList<>();
    for (Object o : (List<?>) Json.parse(Files.readString(jmhJson))) {
      Map<?, ?> run = (Map<?, ?>) o;
      Map<?, ?> metric = (Map<?, ?>) run.get("primaryMetric");
      double best = Double.POSITIVE_INFINITY;
      for (Object fork : (List<?>) metric.get("rawData")) {
        for (Object score : (List<?>) fork) {
          best = Math.min(best, number(score));
        }
      }
      Map<String, String> params = new HashMap<>();
      Object p = run.get("params");
      if (p instanceof Map<?, ?> m) {
        m.forEach((k, v) -> params.put(k.toString(), v.toString()));
      }
      out.add(new Measured((String) run.get("benchmark"), params, number(metric.get("score")),
          number(metric.get("scoreError")), best));
    }
    return out;
  }

  private static double number(Object o) {
    return o instanceof Double d ? d : Double.parseDouble(o.toString()); // JMH writes "NaN"
  }

  static String table(List<Measured> results) {
    List<Row> rows = new ArrayList<>();
    for (Measured r : results) {
      double ms = r.mean();
      double err = r.error();
      double best = r.best();
      String benchmark = r.benchmark();
      if (benchmark.startsWith(ReductionBench.class.getName())) {
        int threads = Integer.parseInt(r.params().get("threads"));
        String op = r.params().get("op");
        // The step rows read two trainers' gradients and write their mean: 12 B, no write-allocate
        // (the scratch array is written over every step, and read back by the reduction).
        int bytes = op.startsWith("step") ? 12 : 4;
        rows.add(new Row(op, threads, ms, err, best, bytes, bytes));
      } else if (benchmark.startsWith(Nd4jAdamBench.class.getName())) {
        // Two passes: the native adam_updater op (g, m, v in; g, m, v out) and params.subi(g).
        rows.add(new Row("nd4j-adam", 1, ms, err, best, 36, 36));
      } else {
        Rule rule = Rule.of(r.params().get("rule"));
        int threads = Integer.parseInt(r.params().get("threads"));
        boolean clip = benchmark.startsWith(ClippedKernelBench.class.getName());
        rows.add(new Row(clip ? rule.id + " (clipped)" : rule.id, threads, ms, err, best,
            rule.bytes(), rule.bytesWithWriteAllocate()));
      }
    }
    Map<Integer, Row> triad = new HashMap<>();
    for (Row row : rows) {
      if (row.rule.equals("triad")) {
        triad.put(row.threads, row);
      }
    }
    rows.sort((a, b) -> {
      int c = Integer.compare(order(a.rule), order(b.rule));
      return c != 0 ? c : Integer.compare(a.threads, b.threads);
    });
    StringBuilder sb = new StringBuilder();
    sb.append("| rule | threads | ms/update, mean ± 99.9% CI | best ms | Mparams/s | B/param | GB/s "
        + "| vs triad | vs triad, write-allocate counted |\n");
    sb.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (Row row : rows) {
      Row base = triad.get(row.threads);
      String ratioWa = base == null ? "-" : fmt("%.2fx", row.gbPerSecondWa() / base.gbPerSecondWa());
      String ratio = base == null ? "-" : fmt("%.2fx", row.gbPerSecond() / base.gbPerSecond());
      String bytes = row.bytes == row.bytesWa ? Integer.toString(row.bytes)
          : row.bytes + " (+" + (row.bytesWa - row.bytes) + " WA)";
      sb.append(fmt("| %s | %d | %.2f ± %.2f | %.2f | %.0f | %s | %.2f | %s | %s |%n",
          row.rule, row.threads, row.msPerOp, row.msError, row.bestMs,
          row.paramsPerSecond() / 1e6, bytes,
          row.gbPerSecond(), ratio, ratioWa));
    }
    return sb.toString();
  }

  private static int order(String id) {
    switch (id) {
      case "nd4j-adam":
        return 3 * Rule.values().length;
      case "sumsq":
        return 3 * Rule.values().length + 1;
      case "sumsq_clipped":
        return 3 * Rule.values().length + 2;
      case "nonfinite":
        return 3 * Rule.values().length + 3;
      case "reduce":
        return 3 * Rule.values().length + 4;
      case "sumsq_plain":
        return 3 * Rule.values().length + 5;
      case "nonfinite_plain":
        return 3 * Rule.values().length + 6;
      case "step_k2":
        return 3 * Rule.values().length + 7;
      case "step_k2_separate":
        return 3 * Rule.values().length + 8;
      default:
        break;
    }
    if (id.endsWith(" (clipped)")) {
      return Rule.values().length + Rule.of(id.substring(0, id.indexOf(' '))).ordinal();
    }
    return Rule.of(id).ordinal();
  }

  private static String fmt(String format, Object... args) {
    return String.format(Locale.ROOT, format, args);
  }

  /** The first three fields of /proc/loadavg, or "n/a". */
  static String loadAverage() {
    try {
      String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
      return f[0] + " / " + f[1] + " / " + f[2];
    } catch (IOException | RuntimeException e) {
      return "n/a";
    }
  }

  static String machine() {
    String cpu = "unknown";
    try (Stream<String> lines = Files.lines(Path.of("/proc/cpuinfo"))) {
      cpu = lines.filter(l -> l.startsWith("model name"))
          .findFirst().map(l -> l.substring(l.indexOf(':') + 1).trim()).orElse(cpu);
    } catch (IOException | RuntimeException e) {
      // not Linux: leave it unknown
    }
    return fmt("%d parameters per update; %d CPUs (%s); %s %s (%s); %s %s%n",
        KernelBench.N, Runtime.getRuntime().availableProcessors(), cpu,
        System.getProperty("java.vm.name"), System.getProperty("java.runtime.version"),
        System.getProperty("java.vm.vendor"), System.getProperty("os.name"),
        System.getProperty("os.arch"));
  }
}
