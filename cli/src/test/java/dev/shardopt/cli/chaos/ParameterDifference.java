package dev.shardopt.cli.chaos;

import dev.shardopt.client.PulledParameters;
import java.util.Map;

/**
 * How a pull differs from the fault-free reference: the parameters whose bits differ, and the
 * largest |pulled - reference| among them (0 when none does).
 */
record ParameterDifference(long differing, double max) {
  static ParameterDifference between(Map<String, float[]> reference, PulledParameters pulled) {
    long differing = 0;
    double max = 0;
    for (Map.Entry<String, float[]> e : reference.entrySet()) {
      float[] want = e.getValue();
      float[] got = pulled.get(e.getKey());
      for (int i = 0; i < want.length; i++) {
        if (Float.floatToRawIntBits(want[i]) != Float.floatToRawIntBits(got[i])) {
          differing++;
          max = Math.max(max, Math.abs((double) want[i] - got[i]));
        }
      }
    }
    return new ParameterDifference(differing, max);
  }
}
