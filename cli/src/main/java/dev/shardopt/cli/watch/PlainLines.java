package dev.shardopt.cli.watch;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The lines {@code watch} prints per refresh when its output is not a terminal (a log, a pipe):
 * one {@code key=value} line for the cluster, then one per model, each starting with the time.
 */
public final class PlainLines {

  public List<String> lines(ClusterView view, Instant now) {
    List<String> out = new ArrayList<>();
    String time = "time=" + now;
    out.add(time + " coordinator=" + view.coordinator() + " refresh=" + view.samples() + " workers=" + view.workers().size()
        + " healthy=" + view.healthyWorkers() + " models=" + view.models().size()
        + (view.error() == null ? "" : " error=\"" + view.error().replace('"', '\'') + "\""));
    for (ClusterView.ModelRow m : view.models()) {
      out.add(String.format(Locale.ROOT, "%s model=%s mode=%s state=%s step=%d steps_per_s=%s skipped=%d duplicates=%d"
              + " grad_norm=%s lr=%s", time, m.name(), m.mode(), m.state(), m.step(), ScreenLayout.rate(m.stepsPerSecond()),
          m.skipped(), m.duplicates(), ScreenLayout.last(m.gradientNorms()), ScreenLayout.last(m.learningRates())));
    }
    return out;
  }
}
