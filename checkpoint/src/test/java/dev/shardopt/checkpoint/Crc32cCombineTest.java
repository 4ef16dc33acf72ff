package dev.shardopt.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Random;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;

class Crc32cCombineTest {

  static int crc(byte[] b, int from, int to) {
    CRC32C c = new CRC32C();
    c.update(b, from, to - from);
    return (int) c.getValue();
  }

  @Test
  void theKnownCheckValue() {
    byte[] b = "123456789".getBytes(StandardCharsets.US_ASCII);
    assertThat(crc(b, 0, b.length)).isEqualTo(0xE3069283);
    // Split anywhere, combined, it is still the check value.
    for (int i = 0; i <= b.length; i++) {
      assertThat(Crc32cCombine.combine(crc(b, 0, i), crc(b, i, b.length), b.length - i)).isEqualTo(0xE3069283);
    }
  }

  @Test
  void everySplitOfEveryLengthUpTo300CombinesToTheWholeCrc() {
    Random r = new Random(1);
    for (int n = 0; n <= 300; n++) {
      byte[] b = new byte[n];
      r.nextBytes(b);
      int whole = crc(b, 0, n);
      for (int i = 0; i <= n; i++) {
        assertThat(Crc32cCombine.combine(crc(b, 0, i), crc(b, i, n), n - i)).as("n=%d split=%d", n, i).isEqualTo(whole);
      }
    }
  }

  @Test
  void manyRandomPartsOfLargeBuffersFoldToTheWholeCrc() {
    Random r = new Random(2);
    for (int trial = 0; trial < 20; trial++) {
      int n = r.nextInt(3 << 20);
      byte[] b = new byte[n];
      r.nextBytes(b);
      int[] cuts = r.ints(r.nextInt(12), 0, n + 1).sorted().toArray();
      int[] bounds = new int[cuts.length + 2];
      System.arraycopy(cuts, 0, bounds, 1, cuts.length);
      bounds[bounds.length - 1] = n;
      int folded = 0; // the CRC of the empty prefix
      for (int i = 0; i + 1 < bounds.length; i++) {
        folded = Crc32cCombine.combine(folded, crc(b, bounds[i], bounds[i + 1]), bounds[i + 1] - bounds[i]);
      }
      assertThat(folded).as("n=%d cuts=%s", n, Arrays.toString(cuts)).isEqualTo(crc(b, 0, n));
    }
  }

  @Test
  void lengthsAboveTwoToThe32AreHandled() {
    // crc(A || zeros(2^32 + 5)) computed two ways: combine with the zeros' CRC, and by folding halves.
    int a = crc(new byte[] {1, 2, 3}, 0, 3);
    long big = (1L << 32) + 5;
    int direct = Crc32cCombine.combine(a, Crc32cCombine.ofZeros(big), big);
    long half = big / 2;
    int halves = Crc32cCombine.combine(
        Crc32cCombine.combine(a, Crc32cCombine.ofZeros(half), half), Crc32cCombine.ofZeros(big - half), big - half);
    assertThat(direct).isEqualTo(halves);
  }

  @Test
  void ofZerosIsTheCrcOfZeroBytes() {
    for (int n : new int[] {0, 1, 2, 3, 63, 64, 1000, 4096, 1 << 20}) {
      assertThat(Crc32cCombine.ofZeros(n)).as("n=%d", n).isEqualTo(crc(new byte[n], 0, n));
    }
  }

  @Test
  void aNegativeLengthIsRefused() {
    assertThatThrownBy(() -> Crc32cCombine.combine(0, 0, -1)).isInstanceOf(IllegalArgumentException.class);
  }
}
