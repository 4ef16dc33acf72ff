package dev.shardopt.rpc.wire;

import io.grpc.Detachable;
import io.grpc.HasByteBuffer;
import io.grpc.KnownLength;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * What gRPC's Netty transport hands a marshaller, for tests: a message as a chain of direct
 * buffers, detachable, whose buffers count as released once the stream (or its detached copy) is
 * closed, and not before.
 */
final class BufferChainStream extends InputStream implements KnownLength, HasByteBuffer, Detachable {
  private List<ByteBuffer> buffers;
  private int index;
  private int markIndex = -1;
  private int markPosition;
  boolean closed;
  /** The stream {@link #detach} made, if any. */
  BufferChainStream detached;
  /** As Netty's stream for a few messages: {@link #byteBufferSupported} false. */
  boolean withoutByteBuffers;
  /** Added to what {@link #available} says, to make it announce a wrong length (0: the truth). */
  int misannounced;

  BufferChainStream(List<ByteBuffer> buffers) {
    this.buffers = buffers;
  }

  /**
   * {@code bytes} copied into direct buffers cut at random places (pieces of 1 to {@code maxPiece}
   * bytes), every other one between a few bytes of padding, as a slice of a larger buffer is: its
   * position above 0 and its limit below its capacity.
   */
  static BufferChainStream split(byte[] bytes, int maxPiece, Random random) {
    List<ByteBuffer> out = new ArrayList<>();
    for (int at = 0; at < bytes.length; ) {
      int n = Math.min(bytes.length - at, 1 + random.nextInt(maxPiece));
      int pad = out.size() % 2 == 0 ? 0 : 1 + random.nextInt(7);
      ByteBuffer b = ByteBuffer.allocateDirect(pad + n + pad).put(pad, bytes, at, n).limit(pad + n).position(pad);
      out.add(b);
      at += n;
    }
    return new BufferChainStream(out);
  }

  private ByteBuffer current() {
    while (index < buffers.size() && !buffers.get(index).hasRemaining()) {
      index++;
    }
    return index < buffers.size() ? buffers.get(index) : null;
  }

  @Override
  public int available() {
    int n = 0;
    for (int i = index; i < buffers.size(); i++) {
      n += buffers.get(i).remaining();
    }
    return n + misannounced;
  }

  @Override
  public int read() {
    ByteBuffer b = current();
    return b == null ? -1 : b.get() & 0xff;
  }

  @Override
  public int read(byte[] out, int off, int len) {
    if (len == 0) {
      return 0;
    }
    int done = 0;
    ByteBuffer b;
    while (done < len && (b = current()) != null) {
      int n = Math.min(len - done, b.remaining());
      b.get(out, off + done, n);
      done += n;
    }
    return done == 0 ? -1 : done;
  }

  @Override
  public long skip(long n) {
    long done = 0;
    ByteBuffer b;
    while (done < n && (b = current()) != null) {
      int k = (int) Math.min(n - done, b.remaining());
      b.position(b.position() + k);
      done += k;
    }
    return done;
  }

  @Override
  public boolean markSupported() {
    return true;
  }

  @Override
  public synchronized void mark(int limit) {
    current();
    markIndex = index;
    markPosition = index < buffers.size() ? buffers.get(index).position() : 0;
    for (int i = index; i < buffers.size(); i++) {
      buffers.get(i).mark();
    }
  }

  @Override
  public synchronized void reset() {
    index = markIndex;
    for (int i = index; i < buffers.size(); i++) {
      buffers.get(i).reset();
    }
  }

  @Override
  public boolean byteBufferSupported() {
    return !withoutByteBuffers;
  }

  @Override
  public ByteBuffer getByteBuffer() {
    ByteBuffer b = current();
    // Netty's nioBuffers()[0] may start past 0; its nioBuffer() is a slice from 0: give both shapes
    return b == null ? null : index % 2 == 0 ? b.slice() : b.duplicate();
  }

  @Override
  public InputStream detach() {
    detached = new BufferChainStream(buffers.subList(index, buffers.size()));
    buffers = List.of();
    index = 0;
    return detached;
  }

  @Override
  public void close() {
    closed = true;
  }
}
