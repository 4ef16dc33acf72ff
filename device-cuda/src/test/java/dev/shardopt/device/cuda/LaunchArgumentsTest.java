package dev.shardopt.device.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.junit.jupiter.api.Test;

/**
 * The kernel-argument block as cuLaunchKernel reads it: entry i of the {@code void**} array points
 * at cell i, and cell i holds argument i in its first bytes (an int or float in the low four, as a
 * little-endian machine lays out a 4-byte kernel parameter). Read back through element-indexed
 * views, so that the byte offsets of BytePointer.putInt/putFloat/putLong are checked, not assumed.
 * Needs javacpp's own JNI library only, not CUDA.
 */
class LaunchArgumentsTest {

  @Test
  void cellsHoldTheArgumentsInOrderAndTheArrayPointsAtThem() {
    try (LaunchArguments args = new LaunchArguments()) {
      args.reset().address(0x1122334455667788L).i32(-5).f32(1.5f).f64(-0.25).address(0L).i32(Integer.MAX_VALUE);
      assertThat(args.count()).isEqualTo(6);
      for (int i = 0; i < LaunchArguments.MAX_ARGS; i++) {
        assertThat(args.paramEntry(i)).isEqualTo(args.cellAddress(0) + 8L * i);
      }
      assertThat(longAt(args.cellAddress(0))).isEqualTo(0x1122334455667788L);
      assertThat(intAt(args.cellAddress(1))).isEqualTo(-5);
      assertThat(floatAt(args.cellAddress(2))).isEqualTo(1.5f);
      assertThat(Double.longBitsToDouble(longAt(args.cellAddress(3)))).isEqualTo(-0.25);
      assertThat(longAt(args.cellAddress(4))).isZero();
      assertThat(intAt(args.cellAddress(5))).isEqualTo(Integer.MAX_VALUE);
    }
  }

  @Test
  void aResetStartsOverAtTheFirstCellAndNaNBitsAreKept() {
    try (LaunchArguments args = new LaunchArguments()) {
      args.reset().i32(1).i32(2).i32(3);
      float nan = Float.intBitsToFloat(0x7fc00123);
      args.reset().f32(nan).i32(7);
      assertThat(args.count()).isEqualTo(2);
      assertThat(Float.floatToRawIntBits(floatAt(args.cellAddress(0)))).isEqualTo(0x7fc00123);
      assertThat(intAt(args.cellAddress(1))).isEqualTo(7);
      assertThat(intAt(args.cellAddress(1) + 4)).as("high half of a re-used cell").isZero();
    }
  }

  @Test
  void moreThanThirtyTwoArgumentsAreRefused() {
    try (LaunchArguments args = new LaunchArguments()) {
      args.reset();
      for (int i = 0; i < LaunchArguments.MAX_ARGS; i++) {
        args.i32(i);
      }
      assertThatThrownBy(() -> args.i32(99)).isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("more than 32");
    }
  }

  private static long longAt(long address) {
    return new LongPointer(new DevicePointer(address)).capacity(1).get(0);
  }

  private static int intAt(long address) {
    return new IntPointer(new DevicePointer(address)).capacity(1).get(0);
  }

  private static float floatAt(long address) {
    return new FloatPointer(new DevicePointer(address)).capacity(1).get(0);
  }
}
