package dev.shardopt.engine.kernel;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Which reducer gets which range; that both give the same bits is LaneReducerTest's. */
class LengthSwitchedLaneReducerTest {

  /** Answers with its own tag and records the ranges it was given. */
  private static final class Recording implements LaneReducer {
    final double tag;
    final List<String> calls = new ArrayList<>();

    Recording(double tag) {
      this.tag = tag;
    }

    @Override
    public String name() {
      return "r" + (int) tag;
    }

    @Override
    public double sumOfSquares(float[] g, int from, int to) {
      calls.add("sumsq " + from + ".." + to);
      return tag;
    }

    @Override
    public double clampedSumOfSquares(float[] g, int from, int to, int clipBits) {
      calls.add("clamped " + from + ".." + to);
      return tag;
    }

    @Override
    public boolean anyNonFinite(float[] g, int from, int to) {
      calls.add("nonfinite " + from + ".." + to);
      return tag > 1;
    }
  }

  @Test
  void rangesShorterThanTheThresholdGoToTheShortRangeReducer() {
    Recording shortOnes = new Recording(1);
    Recording longOnes = new Recording(2);
    LaneReducer r = new LengthSwitchedLaneReducer(shortOnes, longOnes, 4096);
    float[] g = new float[3 * 8192];

    assertThat(r.sumOfSquares(g, 100, 100 + 4095)).isEqualTo(1.0);
    assertThat(r.sumOfSquares(g, 100, 100 + 4096)).isEqualTo(2.0);
    assertThat(r.clampedSumOfSquares(g, 8192, 16384, Float.floatToRawIntBits(1f))).isEqualTo(2.0);
    assertThat(r.clampedSumOfSquares(g, 0, 2410, Float.floatToRawIntBits(1f))).isEqualTo(1.0);
    assertThat(r.anyNonFinite(g, 0, 0)).isFalse();
    assertThat(r.anyNonFinite(g, 0, 8192)).isTrue();

    assertThat(shortOnes.calls).containsExactly("sumsq 100..4195", "clamped 0..2410", "nonfinite 0..0");
    assertThat(longOnes.calls).containsExactly("sumsq 100..4196", "clamped 8192..16384", "nonfinite 0..8192");
    assertThat(r.name()).isEqualTo("r2 (r1 below 4096 elements)");
  }
}
