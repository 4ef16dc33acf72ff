package dev.shardopt.cli.train;

import dev.shardopt.cli.ExtensionCommand;
import dev.shardopt.cli.ShardoptCli;
import dev.shardopt.cli.UserErrorException;
import dev.shardopt.client.ShardoptCluster;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.train.ComparisonTable;
import dev.shardopt.train.DataParallelTrainer;
import dev.shardopt.train.DigitsData;
import dev.shardopt.train.ProgressDisplay;
import dev.shardopt.train.TrainingCharts;
import dev.shardopt.train.TrainingConfig;
import dev.shardopt.train.TrainingReport;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code shardopt compare}: trains the {@code train} model once per pipeline — same seed, same split, same
 * initial parameters and data order — one after the other, each on a fresh model in the same cluster, then
 * prints a table (final loss, test accuracy, steps to a loss threshold, time) and draws the loss curves and
 * gradient norms of all pipelines on one chart.
 */
@Command(
    name = "compare",
    description = {
      "Trains the 'train' model once per pipeline and compares their loss, accuracy and speed.",
      "Same seed, split, initial parameters and data order for every pipeline, one after the other on fresh"
          + " models; prints a table and writes a chart of the loss curves and gradient norms.",
      "Example: shardopt compare 'sgd(0.1)' 'momentum(0.05)' 'adam(1e-3)' --steps 1500"
    },
    mixinStandardHelpOptions = true)
public final class CompareCommand implements Callable<Integer>, ExtensionCommand {
  public static final int MAX_PIPELINES = 10;

  @Spec CommandSpec spec;

  @Parameters(arity = "1..*", paramLabel = "DSL", description = "The pipelines to compare (1 to " + MAX_PIPELINES + ").")
  List<String> pipelineTexts;

  @Option(names = "--threshold", paramLabel = "LOSS", defaultValue = "0.1",
      description = "The loss (" + TrainingReport.LOSS_WINDOW + "-step mean) whose first crossing the table reports"
          + " (default: ${DEFAULT-VALUE}).")
  double threshold;

  @Option(names = "--plot", paramLabel = "PNG", defaultValue = "compare.png",
      description = "Where to write the chart (default: ${DEFAULT-VALUE}).")
  Path plot;

  @Mixin TrainCommand.RunOptions run = new TrainCommand.RunOptions();

  @Override
  public Integer call() throws Exception {
    DigitsData data = DigitsData.load();
    TrainCommand.RunOptions.Checked opts = run.check(spec, data);
    if (pipelineTexts.size() > MAX_PIPELINES) {
      throw new UserErrorException("compare takes 1 to " + MAX_PIPELINES + " pipelines, got " + pipelineTexts.size());
    }
    if (!(threshold > 0) || !Double.isFinite(threshold)) {
      throw new UserErrorException("--threshold must be a positive loss, e.g. 0.1, got " + threshold);
    }
    List<Pipeline> pipelines = new ArrayList<>();
    for (int i = 0; i < pipelineTexts.size(); i++) {
      pipelines.add(TrainCommand.parsePipeline("pipeline " + (i + 1), pipelineTexts.get(i)));
    }
    TrainCommand.RunOptions.checkPlot(plot);

    PrintWriter out = spec.commandLine().getOut();
    TrainingConfig base = opts.config(pipelines.get(0));
    DataParallelTrainer trainer = DataParallelTrainer.forDigits(data, base);
    TrainCommand.printHeader(out, base, opts, data, trainer.split());
    out.printf("comparing %d pipelines, one after the other%n", pipelines.size());
    List<TrainingReport> reports = new ArrayList<>();
    List<String> labels = new ArrayList<>();
    try (ShardoptCluster cluster = opts.connect()) {
      for (int i = 0; i < pipelines.size(); i++) {
        TrainingConfig config = base.withPipeline(pipelines.get(i));
        String label = pipelineTexts.get(i).strip();
        out.printf("[%d/%d] %s%n", i + 1, pipelines.size(), label);
        out.flush();
        TrainingReport r;
        try (ProgressDisplay bar = new ProgressDisplay(out, (i + 1) + "/" + pipelines.size(), config.steps(),
            ProgressDisplay.isTerminal())) {
          r = opts.guard(() -> trainer.train(cluster, DataParallelTrainer.freshModelId("compare"), config, bar));
        }
        out.printf(Locale.ROOT, "      test accuracy %.4f (%d/%d), final loss %.4f, %.1f s%n", r.accuracy(), r.correct(),
            r.testSize(), r.finalLoss(), r.trainSeconds());
        reports.add(r);
        labels.add(label);
      }
    }
    out.println();
    out.print(new ComparisonTable(labels, reports, threshold).text());
    out.printf(Locale.ROOT, "final loss: mean of the last %d steps; steps to loss: first step whose %d-step mean loss is <= %s%n",
        TrainingReport.LOSS_WINDOW, TrainingReport.LOSS_WINDOW, threshold);
    TrainingCharts.write(plot, TrainingCharts.comparisonPng(labels, reports,
        "digits MLP+BN, " + base.steps() + " steps, batch " + base.batch()));
    out.println("plot: " + plot);
    out.flush();
    return ShardoptCli.EXIT_OK;
  }
}
