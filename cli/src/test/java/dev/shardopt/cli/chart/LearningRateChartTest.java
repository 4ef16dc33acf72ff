package dev.shardopt.cli.chart;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LearningRateChartTest {

  @TempDir Path dir;

  static LearningRateChart warmupCosine() {
    int n = 100;
    double[] xs = new double[n];
    double[] ys = new double[n];
    for (int t = 0; t < n; t++) {
      xs[t] = t;
      ys[t] = t < 10 ? 0.01 * t / 10 : 1e-4 + 0.5 * (0.01 - 1e-4) * (1 + Math.cos(Math.PI * (t - 10) / 90.0));
    }
    return new LearningRateChart("adam(0.01).warmup(10).cosine(100, 1e-4)", xs, ys);
  }

  @Test
  void writesAPngOfTheRequestedSize() throws Exception {
    Path png = dir.resolve("lr.png");
    warmupCosine().writePng(png, 640, 400);

    byte[] bytes = Files.readAllBytes(png);
    assertThat(bytes).startsWith(0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n');
    BufferedImage img = ImageIO.read(png.toFile());
    assertThat(img).isNotNull();
    assertThat(img.getWidth()).isEqualTo(640);
    assertThat(img.getHeight()).isEqualTo(400);
    Set<Integer> colours = new HashSet<>();
    for (int y = 0; y < img.getHeight(); y += 2) {
      for (int x = 0; x < img.getWidth(); x += 2) {
        colours.add(img.getRGB(x, y));
      }
    }
    assertThat(colours.size()).as("distinct colours").isGreaterThan(2);
    try (var files = Files.list(dir)) {
      assertThat(files).containsExactly(png); // no temporary file left behind
    }
  }

  @Test
  void writesExactlyTheGivenFileName() throws Exception {
    Path out = dir.resolve("chart-without-extension");
    warmupCosine().writePng(out);
    BufferedImage img = ImageIO.read(out.toFile());
    assertThat(img.getWidth()).isEqualTo(LearningRateChart.DEFAULT_WIDTH);
    assertThat(img.getHeight()).isEqualTo(LearningRateChart.DEFAULT_HEIGHT);
    assertThat(dir.resolve("chart-without-extension.png")).doesNotExist();
  }

  @Test
  void singlePointAndConstantSchedulesWork() throws Exception {
    Path png = dir.resolve("one.png");
    new LearningRateChart("sgd()", new double[] {0}, new double[] {0.01}).writePng(png, 300, 200);
    assertThat(ImageIO.read(png.toFile()).getWidth()).isEqualTo(300);
  }

  @Test
  void rejectsBadInput() {
    assertThatThrownBy(() -> new LearningRateChart("t", new double[] {1, 2}, new double[] {1}))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("xs has 2 values, ys has 1");
    assertThatThrownBy(() -> new LearningRateChart("t", new double[0], new double[0]))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new LearningRateChart("t", new double[] {1}, new double[] {Double.NaN}))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("non-finite");
    assertThatThrownBy(() -> warmupCosine().toPng(0, 10)).isInstanceOf(IllegalArgumentException.class);
  }
}
