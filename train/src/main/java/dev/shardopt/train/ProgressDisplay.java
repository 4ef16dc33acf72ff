package dev.shardopt.train;

import java.io.PrintWriter;
import java.util.Locale;
import me.tongfei.progressbar.DelegatingProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * A progress bar ({@code me.tongfei:progressbar}) for a training run: steps done of the total, elapsed
 * time, and the recent loss (mean of the last 20 steps), the gradient norm before clipping and the learning
 * rate of the latest step.
 *
 * <ul>
 *   <li><b>Interactive</b> (a terminal): one line redrawn in place (carriage return) every
 *       {@value #INTERACTIVE_MILLIS} ms, in Unicode blocks, as wide as the terminal.
 *   <li><b>Not interactive</b> (CI, a pipe, a file): plain ASCII lines of at most {@value #LOG_WIDTH}
 *       characters, a new line only every {@value #LOG_MILLIS} ms and at the end, so logs do not flood.
 * </ul>
 */
public final class ProgressDisplay implements DataParallelTrainer.Listener, AutoCloseable {
  public static final int INTERACTIVE_MILLIS = 200;
  public static final int LOG_MILLIS = 5000;
  public static final int LOG_WIDTH = 120;

  private final PrintWriter out;
  private final boolean interactive;
  private final ProgressBar bar;
  private String lastLine = "";

  /**
   * @param task        the bar's label (e.g. "train" or the pipeline)
   * @param total       the run's steps
   * @param interactive a terminal (see {@link #isTerminal()})
   */
  public ProgressDisplay(PrintWriter out, String task, int total, boolean interactive) {
    this.out = out;
    this.interactive = interactive;
    // compact, so that the bar keeps some width on an 80-column terminal: no speed, no ETA (the elapsed
    // time and the percentage tell as much), the statistics in a few characters
    ProgressBarBuilder b = new ProgressBarBuilder()
        .setTaskName(task)
        .setInitialMax(total)
        .hideEta();
    if (interactive) {
      b.setStyle(ProgressBarStyle.UNICODE_BLOCK)
          .setUpdateIntervalMillis(INTERACTIVE_MILLIS)
          .setConsumer(new DelegatingProgressBarConsumer(line -> {
            synchronized (out) {
              out.print('\r');
              out.print(line);
              out.flush();
            }
          }));
    } else {
      b.setStyle(ProgressBarStyle.ASCII)
          .setUpdateIntervalMillis(LOG_MILLIS)
          .setConsumer(new DelegatingProgressBarConsumer(line -> {
            String l = line.strip();
            synchronized (out) {
              if (!l.equals(lastLine)) { // the final state is drawn twice (last tick and close)
                out.println(l);
                out.flush();
                lastLine = l;
              }
            }
          }, LOG_WIDTH));
    }
    this.bar = b.build();
  }

  /** Whether this JVM's standard output is a terminal (Java 17: stdin and stdout both are). */
  public static boolean isTerminal() {
    return System.console() != null;
  }

  @Override
  public void onProgress(DataParallelTrainer.Progress p) {
    bar.stepTo(p.completed());
    bar.setExtraMessage(message(p));
  }

  /** "loss 0.1234 gnorm 0.567 lr 9.8e-04": the recent loss, the gradient norm before clipping, the lr. */
  static String message(DataParallelTrainer.Progress p) {
    return String.format(Locale.ROOT, "loss %s gnorm %s lr %s",
        Double.isNaN(p.recentLoss()) ? "-" : String.format(Locale.ROOT, "%.4f", p.recentLoss()),
        Double.isNaN(p.gradientNorm()) ? "-" : String.format(Locale.ROOT, "%.2g", p.gradientNorm()),
        Double.isNaN(p.learningRate()) ? "-" : String.format(Locale.ROOT, "%.1e", p.learningRate()));
  }

  /** Draws the final state and ends the line. */
  @Override
  public void close() {
    bar.close();
    if (interactive) {
      synchronized (out) {
        out.println();
        out.flush();
      }
    }
  }
}
