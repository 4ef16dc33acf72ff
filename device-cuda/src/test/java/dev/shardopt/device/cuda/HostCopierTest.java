package dev.shardopt.device.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.bytedeco.javacpp.FloatPointer;
import org.junit.jupiter.api.Test;

/**
 * The parallel copy between Java arrays and native memory (javacpp-allocated here, pinned on a GPU
 * machine: the copy does not care), at offsets, over sizes that split into uneven slices.
 */
class HostCopierTest {

  @Test
  void everySliceLandsWhereItBelongsBothWays() {
    int n = 3 * HostCopier.MIN_SLICE + 12345;
    float[] src = new float[n + 7];
    SplittableRandom rnd = new SplittableRandom(3);
    for (int i = 0; i < src.length; i++) {
      src[i] = (float) rnd.nextDouble(-1, 1);
    }
    for (int threads : new int[] {1, 2, 3, 5}) {
      try (HostCopier copier = new HostCopier(threads); FloatPointer nat = new FloatPointer(n)) {
        copier.toPinned(src, 7, nat.address(), n);
        float[] direct = new float[n];
        nat.get(direct);
        assertThat(direct).as("%d threads, to native", threads).isEqualTo(Arrays.copyOfRange(src, 7, n + 7));

        float[] back = new float[n + 3];
        copier.fromPinned(nat.address(), back, 3, n);
        assertThat(Arrays.copyOfRange(back, 3, n + 3)).as("%d threads, back", threads).isEqualTo(direct);
        assertThat(back[0]).isZero();
      }
    }
  }

  @Test
  void smallCopiesAndZeroLengthsWork() {
    try (HostCopier copier = new HostCopier(4); FloatPointer nat = new FloatPointer(10)) {
      copier.toPinned(new float[] {1, 2, 3}, 1, nat.address(), 2);
      assertThat(nat.get(0)).isEqualTo(2f);
      assertThat(nat.get(1)).isEqualTo(3f);
      copier.toPinned(new float[0], 0, nat.address(), 0);
    }
  }

  @Test
  void aBadThreadCountIsRefusedNamingTheProperty() {
    assertThatThrownBy(() -> new HostCopier(0)).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("threads must be >= 1, got 0");
    String old = System.getProperty(CudaOptions.COPY_THREADS);
    try {
      System.setProperty(CudaOptions.COPY_THREADS, "many");
      assertThatThrownBy(HostCopier::defaultThreads).isInstanceOf(IllegalArgumentException.class)
          .hasMessage("shardopt.cuda.copyThreads must be an integer >= 1, got 'many'");
      System.setProperty(CudaOptions.COPY_THREADS, "3");
      assertThat(HostCopier.defaultThreads()).isEqualTo(3);
    } finally {
      if (old == null) {
        System.clearProperty(CudaOptions.COPY_THREADS);
      } else {
        System.setProperty(CudaOptions.COPY_THREADS, old);
      }
    }
  }
}
