package dev.shardopt.cli.watch;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class ScreenLayoutTest {
  private static final ClusterView VIEW = new ClusterView("10.0.0.9:7070", null, 12,
      List.of(new ClusterView.WorkerRow("workers/w1", "10.0.0.1:7071", true, 120, 3),
          new ClusterView.WorkerRow("workers/w2", "10.0.0.2:7071", false, 4000, 2)),
      List.of(new ClusterView.ModelRow("models/mlp", "SYNC", "READY", 150, 12.25, 2, 1, List.of(1.0, 3.0, 2.0),
          List.of(0.5, 0.5, 0.25), ""),
          new ClusterView.ModelRow("models/new", "ASYNC", "LOADING", 0, Double.NaN, 0, 0, List.of(), List.of(),
              "worker w2 did not answer")));

  @Test
  void showsTheHeaderTablesAndChartsWithinTheWidth() {
    List<String> lines = new ScreenLayout(Sparkline.ASCII).lines(VIEW, 100, 40);
    assertThat(lines.get(0)).isEqualTo(
        "shardopt watch  coordinator 10.0.0.9:7070  2 workers (1 healthy)  2 models  refresh 12  q: quit");
    assertThat(lines).allSatisfy(l -> assertThat(l.length()).isLessThanOrEqualTo(100));
    assertThat(lines).anySatisfy(l -> assertThat(l.split("\\s+"))
        .containsExactly("workers/w2", "10.0.0.2:7071", "UNHEALTHY", "4000ms", "2"));
    assertThat(lines).anySatisfy(l -> assertThat(l.split("\\s+"))
        .containsExactly("models/mlp", "SYNC", "READY", "150", "12.3", "2", "1"));
    assertThat(lines).anySatisfy(l -> assertThat(l.split("\\s+"))
        .containsExactly("models/new", "ASYNC", "LOADING", "0", "-", "0", "0"));
    // norms 1, 3, 2 over [1, 3]: levels 0, 7, 4; rates 0.5, 0.5, 0.25 over [0.25, 0.5]: 7, 7, 0
    assertThat(lines).anySatisfy(l -> assertThat(l.split("\\s+")).containsExactly("", "grad", "norm", "_#=", "last", "2.000"));
    assertThat(lines).anySatisfy(l -> assertThat(l.split("\\s+")).containsExactly("", "lr", "##_", "last", "0.2500"));
    assertThat(lines).contains("  failure: worker w2 did not answer");
  }

  @Test
  void oneWorkerAndOneModelAreSingular() {
    ClusterView one = new ClusterView("c:1", null, 1, VIEW.workers().subList(0, 1), VIEW.models().subList(0, 1));
    assertThat(new ScreenLayout(Sparkline.ASCII).lines(one, 100, 40).get(0))
        .isEqualTo("shardopt watch  coordinator c:1  1 worker (1 healthy)  1 model  refresh 1  q: quit");
  }

  @Test
  void cutsToASmallTerminal() {
    List<String> lines = new ScreenLayout(Sparkline.BLOCKS).lines(VIEW, 30, 5);
    assertThat(lines).hasSize(5);
    assertThat(lines).allSatisfy(l -> assertThat(l.length()).isLessThanOrEqualTo(30));
    int all = new ScreenLayout(Sparkline.BLOCKS).lines(VIEW, 30, 1000).size();
    assertThat(lines.get(4)).isEqualTo(("(" + (all - 4) + " more lines: make the terminal taller)").substring(0, 30));
  }

  @Test
  void anUnreachableCoordinatorIsSaid() {
    ClusterView none = new ClusterView("10.0.0.9:7070", "UNAVAILABLE: io exception", 3, List.of(), List.of());
    assertThat(new ScreenLayout(Sparkline.BLOCKS).lines(none, 100, 40).get(1))
        .isEqualTo("coordinator unreachable: UNAVAILABLE: io exception");
    ClusterView stale = new ClusterView("10.0.0.9:7070", "DEADLINE_EXCEEDED", 3, VIEW.workers(), VIEW.models());
    assertThat(new ScreenLayout(Sparkline.BLOCKS).lines(stale, 100, 40).get(1))
        .isEqualTo("coordinator unreachable: DEADLINE_EXCEEDED (showing its last answer)");
  }

  @Test
  void plainLinesAreKeyValuePairs() {
    Instant at = Instant.parse("2026-12-01T06:00:00Z");
    assertThat(new PlainLines().lines(VIEW, at)).containsExactly(
        "time=2026-12-01T06:00:00Z coordinator=10.0.0.9:7070 refresh=12 workers=2 healthy=1 models=2",
        "time=2026-12-01T06:00:00Z model=models/mlp mode=SYNC state=READY step=150 steps_per_s=12.3 skipped=2 duplicates=1"
            + " grad_norm=2.000 lr=0.2500",
        "time=2026-12-01T06:00:00Z model=models/new mode=ASYNC state=LOADING step=0 steps_per_s=- skipped=0 duplicates=0"
            + " grad_norm=- lr=-");
    ClusterView down = new ClusterView("c:1", "UNAVAILABLE: \"x\"", 1, List.of(), List.of());
    assertThat(new PlainLines().lines(down, at))
        .containsExactly("time=2026-12-01T06:00:00Z coordinator=c:1 refresh=1 workers=0 healthy=0 models=0 error=\"UNAVAILABLE: 'x'\"");
  }
}
