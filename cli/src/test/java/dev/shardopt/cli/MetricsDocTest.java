package dev.shardopt.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.coordinator.CoordinatorMetrics;
import dev.shardopt.coordinator.DecidedStep;
import dev.shardopt.engine.UpdateDecision;
import dev.shardopt.worker.server.WorkerMetrics;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.Label;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** docs/operations.md lists exactly the metrics the coordinator and the workers register, with their type, unit and labels. */
class MetricsDocTest {
  private static final Pattern ROW = Pattern.compile("^\\| `(shardopt_\\w+)` \\| (\\w+) \\|\\s*(\\w*)\\s*\\| ([\\w, ]+) \\|");

  @Test
  void operationsPageListsEveryRegisteredMetric() throws Exception {
    PrometheusRegistry registry = new PrometheusRegistry();
    CoordinatorMetrics coordinator = new CoordinatorMetrics(registry);
    WorkerMetrics worker = new WorkerMetrics(registry);
    // One event of each kind, so that every series exists with its labels.
    coordinator.stepDecided("models/m", new DecidedStep(0,
        new UpdateDecision(UpdateDecision.Action.APPLY, 0, 0.1, 1f, 2.0, null), 0, 1, 0), 0.01, 0.02);
    coordinator.checkpointWritten("models/m", 12, 0.5);
    coordinator.failedOver("models/m", "workers/w2", 1, 1);
    worker.pushed("workers/w1", "models/m", 8, 0.001, false);
    worker.pulled("workers/w1", "models/m", 8, 0.001);
    worker.shardsCopied("workers/w1", "models/m", 8, 0.1);
    worker.shardsPersisted("workers/w1", "models/m", 8, 0.2);

    Map<String, String> registered = new TreeMap<>();
    for (MetricSnapshot s : registry.scrape()) {
      String type = s instanceof CounterSnapshot ? "counter" : s instanceof GaugeSnapshot ? "gauge"
          : s instanceof HistogramSnapshot ? "histogram" : s.getClass().getSimpleName();
      String name = s.getMetadata().getPrometheusName() + (type.equals("counter") ? "_total" : "");
      String unit = s.getMetadata().hasUnit() ? s.getMetadata().getUnit().toString() : "";
      assertThat(s.getDataPoints()).as(name).hasSize(1);
      String labels = s.getDataPoints().get(0).getLabels().stream().map(Label::getName).collect(Collectors.joining(", "));
      registered.put(name, type + " | " + unit + " | " + labels);
    }

    Path doc = Path.of("").toAbsolutePath().getParent().resolve("docs/operations.md");
    Map<String, String> documented = new TreeMap<>();
    for (String line : Files.readAllLines(doc)) {
      Matcher m = ROW.matcher(line);
      if (m.find()) {
        assertThat(documented.put(m.group(1), m.group(2) + " | " + m.group(3) + " | " + m.group(4).strip()))
            .as("listed twice: " + m.group(1)).isNull();
      }
    }
    assertThat(registered).hasSize(19);
    assertThat(documented).isEqualTo(registered);
  }
}
