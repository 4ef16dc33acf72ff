package dev.shardopt.train;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class ComparisonTableTest {

  @Test
  void formatsTextAndMarkdown() {
    double[] fast = new double[100];
    double[] slow = new double[100];
    for (int i = 0; i < 100; i++) {
      fast[i] = i < 50 ? 1 : 0.05;
      slow[i] = 1;
    }
    ComparisonTable t = new ComparisonTable(List.of("adam(1e-3)", "sgd(0.1)"),
        List.of(TrainingReportTest.report(fast, "adam(1e-3)", 12.34), TrainingReportTest.report(slow, "sgd(0.1)", 5)), 0.1);
    // the 50-step mean is ((99-i)·1 + (i-49)·0.05)/50 at step i: first <= 0.1 at i = 97, i.e. after 98 steps
    String text = t.text();
    assertThat(text.lines().toList()).hasSize(3);
    assertThat(text.lines().findFirst().orElseThrow())
        .isEqualTo("pipeline    final loss  test acc  steps to loss ≤ 0.1  time (s)");
    assertThat(text).contains("adam(1e-3)      0.0500    0.9499                   98      12.3");
    assertThat(text).contains("sgd(0.1)        1.0000    0.9499                    —       5.0");
    assertThat(t.markdown()).startsWith("| pipeline | final loss | test acc | steps to loss ≤ 0.1 | time (s) |\n|---|");
    assertThat(t.markdown()).contains("| `sgd(0.1)` | 1.0000 | 0.9499 | — | 5.0 |");
  }
}
