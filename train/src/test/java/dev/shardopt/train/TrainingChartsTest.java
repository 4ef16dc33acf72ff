package dev.shardopt.train;

import static org.assertj.core.api.Assertions.assertThat;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainingChartsTest {
  @TempDir Path dir;

  private static double[] decaying(int n) {
    double[] l = new double[n];
    for (int i = 0; i < n; i++) {
      l[i] = 2.3 * Math.exp(-i / 40.0) + 0.01;
    }
    return l;
  }

  @Test
  void drawsThreeStackedPanelsForARun() throws Exception {
    byte[] png = TrainingCharts.trainingPng(TrainingReportTest.report(decaying(300), "adam(1e-3)", 1), "adam(1e-3)");
    BufferedImage img = ImageIO.read(new ByteArrayInputStream(png));
    assertThat(img.getWidth()).isEqualTo(TrainingCharts.WIDTH);
    assertThat(img.getHeight()).isEqualTo(3 * TrainingCharts.PANEL_HEIGHT);
    Path file = dir.resolve("train.png");
    TrainingCharts.write(file, png);
    assertThat(ImageIO.read(file.toFile()).getHeight()).isEqualTo(img.getHeight());
    try (var files = Files.list(dir)) {
      assertThat(files.toList()).containsExactly(file); // no temporary file left
    }
  }

  @Test
  void drawsTwoPanelsForAComparison() throws Exception {
    byte[] png = TrainingCharts.comparisonPng(List.of("a", "b"), List.of(
        TrainingReportTest.report(decaying(100), "sgd(0.1)", 1),
        TrainingReportTest.report(decaying(100), "adam(1e-3)", 1)), "t");
    BufferedImage img = ImageIO.read(new ByteArrayInputStream(png));
    assertThat(img.getHeight()).isEqualTo(2 * TrainingCharts.PANEL_HEIGHT);
  }

  @Test
  void smoothingWindowGrowsWithTheRun() {
    assertThat(TrainingCharts.smoothingWindow(30)).isEqualTo(5);
    assertThat(TrainingCharts.smoothingWindow(800)).isEqualTo(20);
    assertThat(TrainingCharts.smoothingWindow(10_000)).isEqualTo(50);
  }
}
