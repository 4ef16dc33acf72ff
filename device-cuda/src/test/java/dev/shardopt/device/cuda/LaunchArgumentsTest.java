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
        // What the driver reads: kernelParams[i], from the very address cuLaunchKernel is given.
        assertThat(longAt(args.paramsArrayAddress() + 8L * i)).isEqualTo(args.cellAddress(i));
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
  void thePackedBufferLaysEachArgumentAtTheNextMultipleOfItsSize() {
    try (LaunchArguments args = new LaunchArguments()) {
      // shardopt_block_reduce(const float* g, int n, float clip, double* partials, int* first_bad)
      args.reset().address(0x0102030405060708L).i32(0x11223344).f32(Float.intBitsToFloat(0x55667788))
          .address(0x1112131415161718L).address(0x2122232425262728L);
      assertThat(args.pack()).isEqualTo(32);
      assertThat(args.packedHex(32)).isEqualTo(
          "0807060504030201" + "44332211" + "88776655" + "1817161514131211" + "2827262524232221");
      // shardopt_fill(float* out, int n, float value): 8 + 4 + 4
      args.reset().address(0xa0L).i32(3).f32(1f);
      assertThat(args.pack()).isEqualTo(16);
      // an int before a pointer: the pointer moves to offset 8
      args.reset().i32(7).address(0xb0L);
      assertThat(args.pack()).isEqualTo(16);
      assertThat(args.packedHex(16)).isEqualTo("07000000" + args.packedHex(16).substring(8, 16) + "b000000000000000");
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
