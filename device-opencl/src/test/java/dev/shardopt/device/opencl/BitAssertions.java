package dev.shardopt.device.opencl;

import static org.junit.jupiter.api.Assertions.fail;

/** Raw-bit equality of float and double arrays, naming the first difference. */
final class BitAssertions {
  private BitAssertions() {}

  static void assertSameBits(float[] expected, float[] actual, String what) {
    assertSameBits(expected, actual, what, false);
  }

  /**
   * Raw bits equal, except that with {@code anyNaN} every NaN matches every NaN. Where two NaN
   * operands meet (NaN gradients reaching a NaN state), which one's sign and payload survive is up
   * to the compiler's operand order: C2 may commute a float add, and so may LLVM; neither Java nor
   * IEEE 754 specifies it.
   */
  static void assertSameBits(float[] expected, float[] actual, String what, boolean anyNaN) {
    if (expected.length != actual.length) {
      fail(what + ": length " + actual.length + ", expected " + expected.length);
    }
    int diffs = 0;
    int first = -1;
    for (int i = 0; i < expected.length; i++) {
      if (anyNaN && Float.isNaN(expected[i]) && Float.isNaN(actual[i])) {
        continue;
      }
      if (Float.floatToRawIntBits(expected[i]) != Float.floatToRawIntBits(actual[i])) {
        if (first < 0) {
          first = i;
        }
        diffs++;
      }
    }
    if (first >= 0) {
      fail(String.format("%s: %d of %d elements differ; first at %d: expected %s (0x%08x), got %s (0x%08x)",
          what, diffs, expected.length, first, expected[first], Float.floatToRawIntBits(expected[first]),
          actual[first], Float.floatToRawIntBits(actual[first])));
    }
  }

  static void assertSameBits(double[] expected, double[] actual, String what) {
    if (expected.length != actual.length) {
      fail(what + ": length " + actual.length + ", expected " + expected.length);
    }
    for (int i = 0; i < expected.length; i++) {
      if (Double.doubleToRawLongBits(expected[i]) != Double.doubleToRawLongBits(actual[i])) {
        fail(String.format("%s: first difference at %d of %d: expected %s (0x%016x), got %s (0x%016x)",
            what, i, expected.length, expected[i], Double.doubleToRawLongBits(expected[i]), actual[i],
            Double.doubleToRawLongBits(actual[i])));
      }
    }
  }
}
