package dev.shardopt.worker.store;

import com.google.protobuf.ByteString;
import java.util.zip.CRC32C;

/**
 * A push payload's checksum, to tell a retry (the same data) from a different gradient under the
 * same (trainer, step). Each chunk's CRC32C is mixed with its tensor and offset, and the chunks are
 * summed, so the order they arrive in does not matter; the same gradient chunked differently gives
 * another checksum, so a retry must chunk the same way (every Shardopt client does).
 */
public final class PushChecksum {
  private long sum;

  /** Adds one chunk: {@code data} holds elements from {@code offset} of tensor {@code tensorIndex}. */
  public void add(int tensorIndex, long offset, ByteString data) {
    add(tensorIndex, offset, data.asReadOnlyByteBufferList());
  }

  /** As {@link #add(int, long, ByteString)}, the data in pieces (a received chunk spans gRPC's buffers). */
  public void add(int tensorIndex, long offset, java.util.List<java.nio.ByteBuffer> data) {
    Chunk chunk = new Chunk();
    for (java.nio.ByteBuffer piece : data) {
      chunk.update(piece.duplicate());
    }
    add(tensorIndex, offset, chunk);
  }

  /**
   * Adds one chunk whose bytes were given to {@code chunk}: the same value as {@link #add(int, long,
   * java.util.List)} with the same bytes, which the receiver can feed while it decodes them.
   */
  public void add(int tensorIndex, long offset, Chunk chunk) {
    sum += mix(chunk.crc.getValue() ^ mix(((long) tensorIndex << 40) ^ offset));
  }

  /**
   * One chunk's CRC32C, its bytes given in order in pieces of any size: the CRC of the pieces one
   * after another is the CRC of the whole chunk.
   */
  public static final class Chunk {
    private final CRC32C crc = new CRC32C();

    /** The next bytes of the chunk: {@code bytes} from its position to its limit (the position moves to the limit). */
    public void update(java.nio.ByteBuffer bytes) {
      crc.update(bytes);
    }
  }

  public long value() {
    return sum;
  }

  /** SplitMix64's finalizer: every input bit affects every output bit. */
  private static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
    z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
    return z ^ (z >>> 31);
  }
}
