package dev.shardopt.bench;

import dev.shardopt.engine.kernel.StepScalars;
import dev.shardopt.engine.kernel.UpdateKernel;
import java.util.List;

/**
 * The memory-stream baseline, STREAM's triad {@code a[i] = b[i] + s * c[i]}, dressed as an {@link
 * UpdateKernel} (a = param, b = grad, c = slot "c", s = lr) so that it runs through exactly the same
 * {@code ParallelApply} harness, chunking and threads as the real kernels. It reads b and c and
 * writes a without reading it: 12 bytes per element, 16 when the write-allocate read of a is
 * counted.
 */
final class TriadKernel implements UpdateKernel {

  @Override
  public List<String> stateSlots() {
    return List.of("c");
  }

  @Override
  public void apply(float[] a, float[] b, float[][] state, int from, int to, StepScalars s) {
    final float[] c = state[0];
    final float scalar = (float) s.lr();
    for (int i = from; i < to; i++) {
      a[i] = b[i] + scalar * c[i];
    }
  }

  @Override
  public String toString() {
    return "TriadKernel";
  }
}
