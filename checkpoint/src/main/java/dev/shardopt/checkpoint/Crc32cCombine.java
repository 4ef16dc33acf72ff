package dev.shardopt.checkpoint;

/**
 * Combines CRC32C (Castagnoli) values: {@code combine(crc32c(A), crc32c(B), len(B)) == crc32c(A || B)}, so
 * that the checksum of a file written by several processes in ranges can be computed from the ranges'
 * checksums without reading the file again.
 *
 * <p>zlib's {@code crc32_combine} method: appending {@code len(B)} zero bytes to A is a linear map over
 * GF(2) on the CRC register, applied by squaring the one-zero-bit operator matrix (log2 of the length
 * steps); then {@code crc(A||B) = zeros(crc(A), len(B)) ^ crc(B)}. The pre- and post-conditioning
 * (inversion) of the CRC cancels out. Here with the reflected polynomial {@code 0x82F63B78}, as
 * {@link java.util.zip.CRC32C} computes.
 */
public final class Crc32cCombine {

  /** The CRC32C polynomial, reflected. */
  public static final int POLY = 0x82F63B78;

  private static final int GF2_DIM = 32;

  /** The operators for 1, 2, 4, 8, ... zero bytes (ZEROS[i] appends 2^i bytes), built once. */
  private static final int[][] ZEROS = new int[64][];

  static {
    int[] odd = new int[GF2_DIM];
    int[] even = new int[GF2_DIM];
    // The operator for one zero bit.
    odd[0] = POLY;
    int row = 1;
    for (int n = 1; n < GF2_DIM; n++) {
      odd[n] = row;
      row <<= 1;
    }
    square(even, odd); // two zero bits
    square(odd, even); // four zero bits
    square(even, odd); // one zero byte
    ZEROS[0] = even.clone();
    for (int i = 1; i < ZEROS.length; i++) {
      int[] next = new int[GF2_DIM];
      square(next, ZEROS[i - 1]);
      ZEROS[i] = next;
    }
  }

  private Crc32cCombine() {}

  /**
   * The CRC32C of {@code A || B} from {@code crcA = crc32c(A)}, {@code crcB = crc32c(B)} and the length of B
   * in bytes.
   */
  public static int combine(int crcA, int crcB, long lengthB) {
    if (lengthB < 0) {
      throw new IllegalArgumentException("negative length " + lengthB);
    }
    int crc = crcA;
    for (int i = 0; lengthB != 0; i++, lengthB >>>= 1) {
      if ((lengthB & 1) != 0) {
        crc = times(ZEROS[i], crc);
      }
    }
    return crc ^ crcB;
  }

  /** The CRC32C of {@code length} zero bytes (what a sparse, never-written range holds). */
  public static int ofZeros(long length) {
    // Feeding zeros to the register is linear: start from the initial all-ones register, invert at the end.
    int reg = ~0;
    for (int i = 0; length != 0; i++, length >>>= 1) {
      if ((length & 1) != 0) {
        reg = times(ZEROS[i], reg);
      }
    }
    return ~reg;
  }

  private static int times(int[] mat, int vec) {
    int sum = 0;
    int i = 0;
    while (vec != 0) {
      if ((vec & 1) != 0) {
        sum ^= mat[i];
      }
      vec >>>= 1;
      i++;
    }
    return sum;
  }

  private static void square(int[] square, int[] mat) {
    for (int n = 0; n < GF2_DIM; n++) {
      square[n] = times(mat, mat[n]);
    }
  }
}
