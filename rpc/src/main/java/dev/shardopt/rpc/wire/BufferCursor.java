package dev.shardopt.rpc.wire;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads protobuf's wire primitives across a chain of buffers, for the fast path of
 * {@link ReceivingMarshaller}: varints, and byte ranges either copied (small fields) or as views
 * (tensor data). Any malformation is {@link Malformed}, on which the caller falls back to
 * protobuf's own parse (and its error).
 */
final class BufferCursor {
  /** The input is not what the fast path takes: use protobuf's parse. */
  static final class Malformed extends Exception {
    Malformed() {
      super(null, null, false, false);
    }
  }

  private final List<ByteBuffer> buffers;
  private final long size;
  private int index; // the buffer being read
  private int at; // the next byte's index in it (absolute: no buffer's position is moved)
  private long position;

  /** Over the bytes of {@code buffers} from each one's position to its limit, which stay as they are. */
  BufferCursor(List<ByteBuffer> buffers) {
    this.buffers = buffers;
    long n = 0;
    for (ByteBuffer b : buffers) {
      n += b.remaining();
    }
    this.size = n;
    this.at = buffers.isEmpty() ? 0 : buffers.get(0).position();
  }

  long position() {
    return position;
  }

  boolean hasMore() {
    return position < size;
  }

  /** The buffer holding the next byte, {@link #at} moved to it. */
  private ByteBuffer current() throws Malformed {
    while (index < buffers.size() && at >= buffers.get(index).limit()) {
      index++;
      at = index < buffers.size() ? buffers.get(index).position() : 0;
    }
    if (index == buffers.size()) {
      throw new Malformed();
    }
    return buffers.get(index);
  }

  int readByte() throws Malformed {
    int b = current().get(at++) & 0xff;
    position++;
    return b;
  }

  long readVarint64() throws Malformed {
    long v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      int b = readByte();
      v |= (long) (b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        return v;
      }
    }
    throw new Malformed();
  }

  /** A length: a varint in [0, 2^31). */
  int readLength() throws Malformed {
    long v = readVarint64();
    if (v < 0 || v > Integer.MAX_VALUE || position + v > size) {
      throw new Malformed();
    }
    return (int) v;
  }

  void copy(int n, java.io.ByteArrayOutputStream out) throws Malformed {
    for (int left = n; left > 0; ) {
      ByteBuffer b = current();
      int k = Math.min(left, b.limit() - at);
      if (b.hasArray()) {
        out.write(b.array(), b.arrayOffset() + at, k);
      } else {
        byte[] tmp = new byte[k];
        b.get(at, tmp);
        out.write(tmp, 0, k);
      }
      at += k;
      left -= k;
      position += k;
    }
  }

  /**
   * The next {@code n} bytes as views, no copy: a buffer the range covers from its position to its
   * limit is given as it is, a part of one as a slice.
   */
  List<ByteBuffer> views(int n) throws Malformed {
    List<ByteBuffer> out = new ArrayList<>();
    for (int left = n; left > 0; ) {
      ByteBuffer b = current();
      int k = Math.min(left, b.limit() - at);
      out.add(at == b.position() && k == b.remaining() ? b : b.slice(at, k));
      at += k;
      left -= k;
      position += k;
    }
    return out;
  }
}
