package dev.shardopt.cli.train;

import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.cli.ClusterProcesses;
import dev.shardopt.cli.MetricsScrape;
import dev.shardopt.cli.ShardoptCli;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code shardopt train --metrics-port 0}: one endpoint for the process, with its embedded cluster's
 * coordinator and both workers, scraped during the run and parsed by Prometheus' own parser. The
 * exact counts are MetricsProcessesTest's (cli), where the test drives every push; here the run is
 * the command's, so the checks are what must hold at any moment of it.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class TrainMetricsTest {
  private static final Pattern METRICS = Pattern.compile("metrics on (http://127\\.0\\.0\\.1:\\d+/metrics)");
  private final ClusterProcesses processes = new ClusterProcesses("768m");

  @TempDir Path dir;

  @AfterEach
  void killAll() throws InterruptedException {
    processes.close();
  }

  @Test
  void theRunsEndpointServesItsCoordinatorAndWorkers() throws Exception {
    List<String> log = new ArrayList<>();
    CompletableFuture<String> url = new CompletableFuture<>();
    int steps = 5000; // longer than the test waits: it is killed once scraped
    Process train = processes.launch(log, line -> {
      Matcher m = METRICS.matcher(line);
      if (m.find()) {
        url.complete(m.group(1));
      }
    }, "train", "--steps", String.valueOf(steps), "--batch", "32", "--hidden", "16", "--trainers", "2", "--workers", "2",
        "--seed", "3", "--metrics-port", "0", "--plot", dir.resolve("t.png").toString());
    String endpoint = url.get(90, TimeUnit.SECONDS);

    MetricsScrape scrape = null;
    double decided = 0;
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
    while (decided < 3 && System.nanoTime() < deadline && train.isAlive()) {
      scrape = MetricsScrape.of(endpoint, "text");
      decided = scrape.samples("shardopt_steps_decided_total", Map.of()).stream()
          .mapToDouble(MetricsScrape.Sample::value).sum();
      Thread.sleep(200);
    }
    assertThat(decided).as("steps decided; log: %s", log).isGreaterThanOrEqualTo(3).isLessThanOrEqualTo(steps);
    List<MetricsScrape.Sample> byModel = scrape.samples("shardopt_steps_decided_total", Map.of());
    assertThat(byModel).hasSize(1);
    String model = byModel.get(0).labels().get("model");
    assertThat(model).startsWith("models/train-");
    Map<String, String> labels = Map.of("model", model);
    assertThat(scrape.value("shardopt_steps_skipped_total", labels)).isZero();
    // the default pipeline: adam(2e-3) with a warmup and a cosine, clipNorm(1.0)
    assertThat(scrape.value("shardopt_learning_rate", labels)).isGreaterThan(0).isLessThanOrEqualTo(2e-3);
    assertThat(scrape.value("shardopt_clipped_gradient_norm", labels)).isGreaterThan(0).isLessThanOrEqualTo(1.0 + 1e-6);
    assertThat(scrape.value("shardopt_gradient_norm", labels)).isGreaterThan(0);
    for (String worker : List.of("workers/w1", "workers/w2")) {
      Map<String, String> w = Map.of("model", model, "worker", worker);
      assertThat(scrape.value("shardopt_push_duration_seconds_count", w)).isGreaterThanOrEqualTo(2);
      assertThat(scrape.value("shardopt_push_bytes_total", w) % 4).isZero();
      assertThat(scrape.value("shardopt_push_bytes_total", w)).isPositive();
      assertThat(scrape.value("shardopt_push_duplicates_total", w)).isZero();
      assertThat(scrape.value("shardopt_pull_bytes_total", w)).isPositive();
    }
    assertThat(scrape.types()).containsKey("jvm_memory_used_bytes");
    assertThat(train.isAlive()).as("still training: %s", log).isTrue();
  }

  @Test
  void aBadMetricsPortExitsTwoWithOneLine() throws Exception {
    try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      for (String port : List.of("-3", "65536", String.valueOf(taken.getLocalPort()))) {
        TrainCommandTest.Result r = TrainCommandTest.run("train", "--steps", "2", "--batch", "32", "--hidden", "8",
            "--metrics-port", port, "--plot", dir.resolve("bad.png").toString());
        assertThat(r.status()).as(r.err()).isEqualTo(ShardoptCli.EXIT_USER_ERROR);
        assertThat(r.err().strip()).doesNotContain("\n").contains(port.equals(String.valueOf(taken.getLocalPort()))
            ? "cannot serve metrics on 127.0.0.1:" + port : "--metrics-port must be in [0, 65535], got " + port);
      }
    }
  }
}
