package dev.shardopt.rpc;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;

/** The wire form of tensor data: little-endian float32, as {@code bytes} fields carry it. */
public final class TensorBytes {
  /**
   * Default largest chunk of a push or pull message: 4 MiB less 64 KiB, so that a chunk and its
   * header stay within gRPC's 4 MiB fast path for parsing and within a G1 region (a full 4 MiB
   * chunk cost 0.55x of raw gRPC throughput against 0.77x+ below it; docs/benchmarks.md).
   */
  public static final int DEFAULT_CHUNK_BYTES = (4 << 20) - (64 << 10);

  /** Largest gRPC message any Shardopt process accepts: a chunk plus headroom for its header. */
  public static final int MAX_MESSAGE_BYTES = (4 << 20) + (64 << 10);

  private TensorBytes() {}

  /** Elements {@code [from, from + count)} of {@code values} as little-endian bytes. */
  public static ByteString encode(float[] values, int from, int count) {
    ByteBuffer buf = ByteBuffer.allocate(count * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
    buf.asFloatBuffer().put(values, from, count);
    return UnsafeByteOperations.unsafeWrap(buf.array());
  }

  /** Number of floats in {@code data}, or -1 when its length is not a multiple of 4. */
  public static int floatCount(ByteString data) {
    return data.size() % Float.BYTES == 0 ? data.size() / Float.BYTES : -1;
  }

  /**
   * Decodes {@code data} into {@code out[at ...]}. The caller has checked the length. {@code data}
   * may be a view of several transport buffers (a received message parsed with aliasing); each is
   * read in place, never joined into one array, and a float that straddles two of them is put
   * together from its bytes.
   */
  public static void decode(ByteString data, float[] out, int at) {
    decode(data.asReadOnlyByteBufferList(), out, at);
  }

  /** Number of floats in {@code bytes} bytes, or -1 when it is not a multiple of 4. */
  public static int floatCount(int bytes) {
    return bytes % Float.BYTES == 0 ? bytes / Float.BYTES : -1;
  }

  /** As {@link #decode(ByteString, float[], int)}, from {@code data}'s bytes in order (their positions are not moved). */
  public static void decode(java.util.List<ByteBuffer> data, float[] out, int at) {
    decode(data, out, at, (from, to) -> { });
  }

  /** Told of each run of elements as soon as it is decoded, while the run is still in the CPU's cache. */
  @FunctionalInterface
  public interface Decoded {
    /** Elements {@code [from, to)} of the output array now hold their values. */
    void decoded(int from, int to);
  }

  /** Floats decoded between two calls of a {@link Decoded}: 64 KiB, well inside a core's L2 cache. */
  static final int DECODED_RUN = 16_384;

  /** Bytes read in one go, at most: those of a {@link #DECODED_RUN}. */
  static final int READ_RUN = DECODED_RUN * Float.BYTES;

  /** Told of the input's bytes, a piece at a time, just before they are decoded. */
  @FunctionalInterface
  public interface Reading {
    /**
     * The next bytes of the input, in order, each byte once: at most {@value #READ_RUN} of them,
     * from {@code bytes}' position to its limit (a view; moving its position changes nothing).
     */
    void reading(ByteBuffer bytes);
  }

  /**
   * As {@link #decode(java.util.List, float[], int)}, telling {@code sink} of every run of at most
   * {@value #DECODED_RUN} elements once it is decoded, in order, the runs covering the output range
   * exactly once: a check over the values (a NaN scan) then reads them from the cache, not from memory.
   */
  public static void decode(java.util.List<ByteBuffer> data, float[] out, int at, Decoded sink) {
    decode(data, out, at, bytes -> { }, sink);
  }

  /**
   * As {@link #decode(java.util.List, float[], int, Decoded)}, and also telling {@code reader} of
   * the bytes, at most {@value #READ_RUN} at a time, right before it decodes them: a pass over the
   * bytes (a checksum) brings them into the cache, and the decode reads them from there, so the
   * input is read from memory once.
   */
  public static void decode(java.util.List<ByteBuffer> data, float[] out, int at, Reading reader, Decoded sink) {
    // Two views per piece and absolute reads: on the receive path a piece is one 16 KiB HTTP/2 frame,
    // and the views made per piece were a measured share of the receiving thread's time.
    int i = at;
    int told = at;
    int partial = 0; // bytes of a straddling float collected so far
    int bits = 0;
    for (ByteBuffer whole : data) {
      for (int start = whole.position(), limit = whole.limit(); start < limit; ) {
        int end = Math.min(limit, start + READ_RUN);
        ByteBuffer b = whole.slice(start, end - start);
        reader.reading(b);
        b.clear().order(ByteOrder.LITTLE_ENDIAN); // wherever the reader left its position
        start = end;
        int n = b.limit();
        int p = 0;
        while (partial > 0 && p < n) {
          bits |= (b.get(p++) & 0xff) << (8 * partial);
          if (++partial == Float.BYTES) {
            if (i - told == DECODED_RUN) { // the last piece ended on a full run
              sink.decoded(told, i);
              told = i;
            }
            out[i++] = Float.intBitsToFloat(bits);
            partial = 0;
            bits = 0;
          }
        }
        int floats = (n - p) / Float.BYTES;
        if (floats > 0) {
          FloatBuffer f = b.position(p).asFloatBuffer(); // its element 0 is byte p
          for (int k = 0; k < floats; ) {
            if (i - told == DECODED_RUN) {
              sink.decoded(told, i);
              told = i;
            }
            int m = Math.min(floats - k, DECODED_RUN - (i - told));
            f.get(k, out, i, m);
            i += m;
            k += m;
          }
          p += floats * Float.BYTES;
        }
        while (p < n) {
          bits |= (b.get(p++) & 0xff) << (8 * partial++);
        }
      }
    }
    if (i > told) {
      sink.decoded(told, i);
    }
  }
}
