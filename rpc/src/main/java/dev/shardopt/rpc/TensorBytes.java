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

  /** Decodes {@code data} into {@code out[at ...]}. The caller has checked the length. */
  public static void decode(ByteString data, float[] out, int at) {
    FloatBuffer f = data.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
    f.get(out, at, f.remaining());
  }
}
