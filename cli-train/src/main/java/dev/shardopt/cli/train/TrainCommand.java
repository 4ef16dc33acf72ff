package dev.shardopt.cli.train;

import dev.shardopt.cli.ExtensionCommand;
import dev.shardopt.cli.MetricsEndpoint;
import dev.shardopt.cli.MetricsOptions;
import dev.shardopt.cli.ShardoptCli;
import dev.shardopt.cli.UserErrorException;
import dev.shardopt.client.ClientOptions;
import dev.shardopt.client.Shardopt;
import dev.shardopt.client.ShardoptCluster;
import dev.shardopt.client.ShardoptException;
import dev.shardopt.dsl.InvalidPipelineException;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.cli.DeviceOptions;
import dev.shardopt.cli.SecurityOptions;
import dev.shardopt.embedded.EmbeddedCluster;
import dev.shardopt.engine.device.DeviceSelection;
import dev.shardopt.embedded.ShardoptLocal;
import dev.shardopt.train.DataParallelTrainer;
import dev.shardopt.train.DigitsData;
import dev.shardopt.train.MlpWithBatchNorm;
import dev.shardopt.train.NotResumableException;
import dev.shardopt.train.PeriodicCheckpoints;
import dev.shardopt.train.ProgressDisplay;
import dev.shardopt.train.StratifiedSplit;
import dev.shardopt.train.TrainingCharts;
import dev.shardopt.train.TrainingConfig;
import dev.shardopt.train.TrainingDivergedException;
import dev.shardopt.train.TrainingReport;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code shardopt train}: trains an MLP with batch normalization on the UCI digits with K synchronous
 * data-parallel trainers (SameDiff gradients) through an embedded cluster or an external one, shows a
 * progress bar, prints the final test accuracy and draws the loss, accuracy and gradient norms. The work is
 * done by {@code dev.shardopt.train} ({@link DataParallelTrainer}); this class parses and checks the options.
 */
@Command(
    name = "train",
    description = {
      "Trains an MLP with batch norm on the UCI digits through a cluster; prints its test accuracy.",
      "The MLP is 64-H-10 with batch normalization; the digits are 1797 8x8 images, split 80/20 (stratified)."
          + " K synchronous data-parallel trainers compute their gradients with ND4J SameDiff and push them to the"
          + " cluster, which applies the pipeline. Writes a chart of the loss, the test accuracy and the gradient"
          + " norms."
    },
    mixinStandardHelpOptions = true)
public final class TrainCommand implements Callable<Integer>, ExtensionCommand {
  @Spec CommandSpec spec;

  @Option(names = "--pipeline", paramLabel = "DSL",
      description = "The optimizer pipeline (default: " + "adam(2e-3).warmup(50).cosine(STEPS).clipNorm(1.0).weightDecay(1e-4), "
          + "the cosine as long as --steps, the warmup at most a tenth of it).")
  String pipelineText;

  @Option(names = "--plot", paramLabel = "PNG", defaultValue = "train.png",
      description = "Where to write the chart (default: ${DEFAULT-VALUE}).")
  Path plot;

  @Option(names = "--checkpoint-dir", paramLabel = "DIR",
      description = "Write checkpoints into DIR/step-<s> while training, each with its trainers' state in"
          + " DIR/trainer-state/step-<s>.txt, and always one after the last step. The coordinator, the workers and"
          + " this command must all reach DIR under this path.")
  Path checkpointDir;

  @Option(names = "--checkpoint-every", paramLabel = "N",
      description = "With --checkpoint-dir: a checkpoint every N steps (a multiple of the pipeline's accumulate)."
          + " Training waits only while the workers copy their shards; a checkpoint still being written when the"
          + " next is due holds training at that step (back-pressure). Default: only the final one.")
  Integer checkpointEvery;

  @Option(names = "--keep", paramLabel = "K",
      description = "With --checkpoint-dir: keep the K newest complete checkpoints (default: 3).")
  Integer keep;

  @Option(names = "--resume", paramLabel = "PATH",
      description = "Continue from the checkpoint PATH (DIR/step-<s>), or the latest one under PATH that has its"
          + " trainer state, to --steps: bitwise the run that never stopped, on any number of workers. The other"
          + " options must be the checkpointed run's (--workers may differ).")
  Path resume;

  @Mixin RunOptions run = new RunOptions();

  /** The embedded cluster's metrics (coordinator and workers) with the JVM's; with --coordinator, the JVM's alone. */
  @Mixin MetricsOptions metrics = new MetricsOptions();

  @Override
  public Integer call() throws Exception {
    DigitsData data = DigitsData.load();
    RunOptions.Checked opts = run.check(spec, data);
    Pipeline pipeline = parsePipeline("--pipeline", pipelineText == null ? defaultPipeline(opts.steps()) : pipelineText);
    RunOptions.checkPlot(plot);
    TrainingConfig config = opts.config(pipeline);
    PrintWriter out = spec.commandLine().getOut();
    PeriodicCheckpoints.Policy checkpoints = checkpointPolicy(pipeline, opts.steps(), out);
    PeriodicCheckpoints.Resumable from = resumable();

    DataParallelTrainer trainer = DataParallelTrainer.forDigits(data, config);
    printHeader(out, config, opts, data, trainer.split());
    out.println("pipeline: " + config.pipeline());
    if (from != null) {
      out.println("resuming from " + from.checkpoint() + " at step " + from.state().step());
    }
    long start = System.nanoTime();
    TrainingReport report;
    MetricsEndpoint endpoint = metrics.start(); // a bad --metrics-port: one line, exit 2, nothing started
    try (ShardoptCluster cluster = opts.connect(endpoint == null ? null : endpoint.registry())) {
      out.flush();
      try (ProgressDisplay bar = new ProgressDisplay(out, "train", config.steps(), ProgressDisplay.isTerminal())) {
        report = opts.guard(() -> trainer.train(cluster, DataParallelTrainer.freshModelId("train"), config, bar,
            from, checkpoints));
      }
    } finally {
      if (endpoint != null) {
        endpoint.close();
      }
    }
    double total = (System.nanoTime() - start) / 1e9;
    out.printf(Locale.ROOT, "test accuracy %.4f (%d/%d) after %d steps in %.1f s%n", report.accuracy(), report.correct(),
        report.testSize(), config.steps(), report.trainSeconds());
    out.printf(Locale.ROOT, "final train loss %.4f (mean of the last %d steps)%n", report.finalLoss(),
        Math.min(TrainingReport.LOSS_WINDOW, config.steps()));
    TrainingReport.PhaseTimes p = report.phases();
    out.printf(Locale.ROOT, "time: %.1f s in all (setup %.1f s: model and graphs); trainer 0: pull %.1f s (waiting for"
            + " the step included), forward/backward %.1f s, push %.1f s, eval %.1f s%n",
        total, report.setupSeconds(), p.pull(), p.compute(), p.push(), p.eval());
    TrainingCharts.write(plot, TrainingCharts.trainingPng(report, config.pipeline().toString()));
    out.println("plot: " + plot);
    out.flush();
    return ShardoptCli.EXIT_OK;
  }

  /** The checkpoint options, checked; null without --checkpoint-dir. */
  private PeriodicCheckpoints.Policy checkpointPolicy(Pipeline pipeline, int steps, PrintWriter out) {
    if (checkpointDir == null) {
      if (checkpointEvery != null || keep != null) {
        throw new UserErrorException((checkpointEvery != null ? "--checkpoint-every" : "--keep")
            + " needs --checkpoint-dir DIR: where to write the checkpoints");
      }
      return null;
    }
    int k = pipeline.accumulateSteps();
    if (checkpointEvery != null && (checkpointEvery < 1 || checkpointEvery % k != 0)) {
      throw new UserErrorException("--checkpoint-every must be a positive multiple of the pipeline's accumulate ("
          + k + "), got " + checkpointEvery);
    }
    if (steps % k != 0) {
      throw new UserErrorException("--steps must be a multiple of the pipeline's accumulate (" + k + ") with"
          + " --checkpoint-dir: the final checkpoint captures an update boundary; got " + steps);
    }
    if (keep != null && keep < 1) {
      throw new UserErrorException("--keep must be >= 1 (the newest checkpoint is always kept), got " + keep);
    }
    if (Files.exists(checkpointDir) && !Files.isDirectory(checkpointDir)) {
      throw new UserErrorException("--checkpoint-dir " + checkpointDir + " is not a directory");
    }
    return new PeriodicCheckpoints.Policy(checkpointDir.toAbsolutePath().normalize(),
        checkpointEvery == null ? 0 : checkpointEvery, keep == null ? DEFAULT_KEEP : keep, line -> {
          synchronized (out) {
            out.println(line);
            out.flush();
          }
        });
  }

  private PeriodicCheckpoints.Resumable resumable() {
    try {
      return resume == null ? null : PeriodicCheckpoints.findResumable(resume);
    } catch (NotResumableException e) {
      throw new UserErrorException(e.getMessage(), e);
    }
  }

  static void printHeader(PrintWriter out, TrainingConfig c, RunOptions.Checked opts, DigitsData data,
      StratifiedSplit split) {
    out.printf(Locale.ROOT, "model: MLP %d-%d-%d with batch norm (SameDiff), %d trainers x %d rows = batch %d, %d steps, seed %d%n",
        MlpWithBatchNorm.INPUTS, c.hidden(), MlpWithBatchNorm.CLASSES, c.trainers(), c.batch() / c.trainers(), c.batch(),
        c.steps(), c.seed());
    out.printf(Locale.ROOT, "data: %d digits, %d train / %d test (stratified)%n", data.size(), split.train().length,
        split.test().length);
    out.println("cluster: " + (opts.coordinator() == null ? "embedded, " + opts.workers() + " worker"
        + (opts.workers() == 1 ? "" : "s") : "coordinator " + opts.coordinator()));
  }

  /**
   * The default pipeline for a run of {@code steps}: Adam at 2e-3 with a warmup of min(50, steps/10) steps,
   * a cosine decay over the whole run, clipNorm(1.0) and weight decay 1e-4.
   */
  static String defaultPipeline(int steps) {
    long warmup = Math.min(50, steps / 10);
    return "adam(2e-3)" + (warmup >= 1 ? ".warmup(" + warmup + ")" : "") + ".cosine(" + steps + ").clipNorm(1.0).weightDecay(1e-4)";
  }

  static Pipeline parsePipeline(String option, String text) {
    try {
      return Pipeline.parse(text);
    } catch (InvalidPipelineException e) {
      throw new UserErrorException(option + " '" + text + "': " + e.getMessage(), e);
    }
  }

  static final int DEFAULT_KEEP = 3;

  /** The options {@code train} and {@code compare} share, and their checks. */
  public static final class RunOptions {
    static final int MAX_STEPS = 1_000_000;
    static final int MAX_TRAINERS = 64;
    static final int MAX_WORKERS = 64;
    static final int MAX_HIDDEN = 4096;
    private static final Pattern HOST_PORT = Pattern.compile("(.+):(\\d{1,5})");

    @Option(names = "--workers", paramLabel = "N", defaultValue = "2",
        description = "Workers of the embedded cluster (default: ${DEFAULT-VALUE}); not with --coordinator.")
    int workers;

    @Option(names = "--replicas", paramLabel = "R", defaultValue = "1",
        description = "Copies of every shard, each on a different worker (default: ${DEFAULT-VALUE}); with 2 or more,"
            + " training goes on when a worker dies. Needs at least R workers.")
    int replicas;

    @Option(names = "--trainers", paramLabel = "K", defaultValue = "2",
        description = "Synchronous data-parallel trainers, one thread each (default: ${DEFAULT-VALUE}).")
    int trainers;

    @Option(names = "--steps", paramLabel = "T", defaultValue = "800",
        description = "Optimizer steps (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--batch", paramLabel = "B", defaultValue = "128",
        description = "Global batch size, split evenly over the trainers (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--hidden", paramLabel = "H", defaultValue = "128",
        description = "Width of the hidden layer (default: ${DEFAULT-VALUE}).")
    int hidden;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "42",
        description = "Seeds the split, the batch order and the initial parameters (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--eval-every", paramLabel = "N",
        description = "Measure the test accuracy every N steps (default: about 30 times per run).")
    Integer evalEvery;

    @Option(names = "--coordinator", paramLabel = "HOST:PORT",
        description = "Train on this external cluster instead of an embedded one.")
    String coordinator;

    @Mixin DeviceOptions device = new DeviceOptions();

    /** TLS and the token of the client of an external cluster (--coordinator). */
    @Mixin SecurityOptions security = new SecurityOptions();

    /** The options after their checks; {@code device} is the embedded workers' (null with a coordinator). */
    record Checked(int workers, int trainers, int steps, int batch, int hidden, long seed, int evalEvery,
        String coordinator, DeviceSelection device, int replicas, SecurityOptions security) {

      TrainingConfig config(Pipeline p) {
        return new TrainingConfig(p, trainers, steps, batch, seed, hidden, evalEvery,
            TrainingConfig.DEFAULT_TEST_FRACTION, replicas);
      }

      /** The embedded cluster, or a client of the external one. */
      ShardoptCluster connect() {
        return connect(null);
      }

      /**
       * The embedded cluster with its coordinator's and workers' metrics on {@code metrics} (null:
       * none), or a client of the external one (whose processes serve their own metrics).
       */
      ShardoptCluster connect(PrometheusRegistry metrics) {
        if (coordinator == null) {
          EmbeddedCluster.Builder cluster = EmbeddedCluster.builder().workers(workers).device(device);
          if (metrics != null) {
            cluster.metrics(metrics);
          }
          return ShardoptLocal.start(cluster, ClientOptions.defaults());
        }
        return Shardopt.connect(coordinator, security.client(ClientOptions.defaults()));
      }

      /**
       * Runs {@code body}. A diverged run is the user's pipeline's doing, and so are the failures of an
       * external coordinator's cluster (one line, exit 2); the embedded cluster's are bugs.
       */
      <T> T guard(Body<T> body) throws InterruptedException {
        try {
          return body.run();
        } catch (TrainingDivergedException | NotResumableException e) {
          throw new UserErrorException(e.getMessage(), e);
        } catch (ShardoptException e) {
          if (coordinator == null) {
            throw e;
          }
          throw new UserErrorException("the cluster at --coordinator " + coordinator + " failed: " + e.getMessage(), e);
        }
      }
    }

    interface Body<T> {
      T run() throws InterruptedException;
    }

    /** Checks the options against each other and the data set; throws UserErrorException naming the option. */
    Checked check(CommandSpec spec, DigitsData data) {
      int trainRows = StratifiedSplit.of(data.labels(), TrainingConfig.DEFAULT_TEST_FRACTION, seed).train().length;
      if (steps < 1 || steps > MAX_STEPS) {
        throw new UserErrorException("--steps must be in [1, " + MAX_STEPS + "], got " + steps);
      }
      if (trainers < 1 || trainers > MAX_TRAINERS) {
        throw new UserErrorException("--trainers must be in [1, " + MAX_TRAINERS + "], got " + trainers);
      }
      if (batch < 2 * trainers || batch % trainers != 0 || batch > trainRows) {
        throw new UserErrorException("--batch must be a multiple of --trainers (" + trainers
            + ") with at least 2 rows per trainer (batch norm needs a variance) and at most the " + trainRows
            + " training rows, got " + batch);
      }
      if (hidden < 1 || hidden > MAX_HIDDEN) {
        throw new UserErrorException("--hidden must be in [1, " + MAX_HIDDEN + "], got " + hidden);
      }
      if (evalEvery != null && evalEvery < 1) {
        throw new UserErrorException("--eval-every must be >= 1, got " + evalEvery);
      }
      boolean workersGiven = given(spec, "--workers");
      DeviceSelection selection = device.selection();
      if (coordinator != null) {
        Matcher m = HOST_PORT.matcher(coordinator);
        if (!m.matches() || Integer.parseInt(m.group(2)) < 1 || Integer.parseInt(m.group(2)) > 65535) {
          throw new UserErrorException("--coordinator must be HOST:PORT with a port in [1, 65535], e.g. localhost:7070, got '"
              + coordinator + "'");
        }
        if (workersGiven) {
          throw new UserErrorException("--workers " + workers + " sizes the embedded cluster; it cannot be combined with"
              + " --coordinator " + coordinator + " (that cluster has its own workers)");
        }
        for (String option : List.of("--device", "--device-index", "--device-memory-limit")) {
          if (given(spec, option)) {
            throw new UserErrorException(option + " sets the embedded cluster's workers; it cannot be combined with"
                + " --coordinator " + coordinator + " (that cluster's workers were started with their own --device)");
          }
        }
        selection = null;
      } else if (workers < 1 || workers > MAX_WORKERS) {
        throw new UserErrorException("--workers must be in [1, " + MAX_WORKERS + "], got " + workers);
      }
      if (coordinator == null && security.any()) {
        throw new UserErrorException("--tls-cert, --tls-key, --tls-ca, --insecure and --token-file secure the connection to"
            + " the cluster at --coordinator; the embedded cluster runs in this process, on loopback");
      }
      if (replicas < 1 || replicas > 16) {
        throw new UserErrorException("--replicas must be in [1, 16], got " + replicas);
      }
      if (coordinator == null && replicas > workers) {
        throw new UserErrorException("--replicas " + replicas + " needs at least as many workers, each copy on a"
            + " different one; give --workers " + replicas + " or more (got " + workers + ")");
      }
      return new Checked(workers, trainers, steps, batch, hidden, seed,
          evalEvery != null ? evalEvery : TrainingConfig.defaultEvalEvery(steps), coordinator, selection, replicas, security);
    }

    private static boolean given(CommandSpec spec, String option) {
      return spec.commandLine().getParseResult() != null && spec.commandLine().getParseResult().hasMatchedOption(option);
    }

    static void checkPlot(Path plot) {
      Path parent = plot.toAbsolutePath().getParent();
      if (parent != null && !Files.isDirectory(parent)) {
        throw new UserErrorException("--plot " + plot + ": the directory " + parent + " does not exist");
      }
      if (Files.isDirectory(plot)) {
        throw new UserErrorException("--plot " + plot + " is a directory; give a file name such as train.png");
      }
    }
  }
}
