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
  private int index;
  private long position;

  BufferCursor(List<ByteBuffer> buffers) {
    this.buffers = new ArrayList<>(buffers.size());
    long n = 0;
    for (ByteBuffer b : buffers) {
      this.buffers.add(b.duplicate());
      n += b.remaining();
    }
    this.size = n;
  }

  long position() {
    return position;
  }

  boolean hasMore() {
    return position < size;
  }

  private ByteBuffer current() throws Malformed {
    while (index < buffers.size() && !buffers.get(index).hasRemaining()) {
      index++;
    }
    if (index == buffers.size()) {
      throw new Malformed();
    }
    return buffers.get(index);
  }

  int readByte() throws Malformed {
    int b = current().get() & 0xff;
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
      int k = Math.min(left, b.remaining());
      if (b.hasArray()) {
        out.write(b.array(), b.arrayOffset() + b.position(), k);
        b.position(b.position() + k);
      } else {
        byte[] tmp = new byte[k];
        b.get(tmp);
        out.write(tmp, 0, k);
      }
      left -= k;
      position += k;
    }
  }

  /** The next {@code n} bytes as read-only views, no copy. */
  List<ByteBuffer> views(int n) throws Malformed {
    List<ByteBuffer> out = new ArrayList<>();
    for (int left = n; left > 0; ) {
      ByteBuffer b = current();
      int k = Math.min(left, b.remaining());
      ByteBuffer v = b.slice();
      v.limit(k);
      out.add(v.asReadOnlyBuffer());
      b.position(b.position() + k);
      left -= k;
      position += k;
    }
    return out;
  }
}
