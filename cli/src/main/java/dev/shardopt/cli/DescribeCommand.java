package dev.shardopt.cli;

import dev.shardopt.cli.chart.LearningRateChart;
import dev.shardopt.dsl.InvalidPipelineException;
import dev.shardopt.dsl.Pipeline;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code shardopt describe}: the canonical text, the JSON, and the learning rate over time. */
@Command(
    name = "describe",
    description = "Prints a pipeline's canonical text, its JSON and its learning rate at a few steps.",
    mixinStandardHelpOptions = true)
public final class DescribeCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Parameters(index = "0", paramLabel = "DSL", description = "The pipeline, e.g. 'adam(1e-3).warmup(500).cosine(1e5)'.")
  String pipelineText;

  @Option(names = "--plot", paramLabel = "PNG", description = "Also draw the schedule to this PNG file.")
  Path plot;

  @Option(names = "--steps", paramLabel = "T", description = "Steps to show and plot (default: the schedule's own length, or 1000).")
  Long steps;

  @Override
  public Integer call() throws Exception {
    Pipeline p;
    try {
      p = Pipeline.parse(pipelineText);
    } catch (InvalidPipelineException e) {
      throw new UserErrorException(e.getMessage(), e);
    }
    long horizon = steps != null ? steps : defaultHorizon(p);
    if (horizon < 1) {
      throw new UserErrorException("--steps must be >= 1, got " + horizon);
    }
    PrintWriter out = spec.commandLine().getOut();
    out.println("pipeline: " + p);
    out.println("json:");
    out.println(p.toJson());
    out.println("learning rate:");
    TreeSet<Long> shown = new TreeSet<>();
    shown.add(0L);
    shown.add(1L);
    if (p.warmupSteps() > 0) {
      shown.add(p.warmupSteps() / 2);
      shown.add(p.warmupSteps());
    }
    for (int i = 1; i <= 4; i++) {
      shown.add(horizon * i / 4);
    }
    for (long t : shown) {
      out.printf("  t=%-10d lr=%s%n", t, String.format("%.6g", p.learningRate(t)));
    }
    if (plot != null) {
      int points = (int) Math.min(horizon + 1, 2000);
      double[] xs = new double[points];
      double[] ys = new double[points];
      for (int i = 0; i < points; i++) {
        long t = points == horizon + 1 ? i : Math.round((double) i * horizon / (points - 1));
        xs[i] = t;
        ys[i] = p.learningRate(t);
      }
      new LearningRateChart(p.toString(), xs, ys).writePng(plot);
      out.println("plot: " + plot);
    }
    return ShardoptCli.EXIT_OK;
  }

  private static long defaultHorizon(Pipeline p) {
    if (p.decay() instanceof dev.shardopt.dsl.Decay.Cosine c) {
      return c.totalSteps() + c.totalSteps() / 10;
    }
    return Math.max(1000, 4 * p.warmupSteps());
  }
}
