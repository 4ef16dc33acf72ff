package dev.shardopt.bench.cluster;

import dev.shardopt.rpc.TensorBytes;
import io.grpc.Drainable;
import io.grpc.KnownLength;
import io.grpc.MethodDescriptor;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The one method of {@link ReplicationFlowBenchmark}'s replicas: a client stream of a header
 * (step, slot) and then a gradient as little-endian fp32 chunks, answered by one acknowledgement.
 * No protobuf: the transport alone, as {@link LoopbackSink}'s raw flavour, but sending straight
 * from a {@code float[]} (encoded into gRPC's buffers through a small reused array, so one copy on
 * send) and receiving into a reused per-thread array (one copy out of gRPC's buffers), from which
 * the replica decodes into its float[] slot.
 */
final class FlowMessages {
  /** Shardopt's chunk: 4 MiB less 64 KiB (inside gRPC's parse fast path and a G1 region). */
  static final int CHUNK_BYTES = TensorBytes.DEFAULT_CHUNK_BYTES;
  static final int CHUNK_FLOATS = CHUNK_BYTES / Float.BYTES;
  private static final int HEADER_BYTES = Long.BYTES + Integer.BYTES;
  private static final int SMALL = 64;
  private static final ThreadLocal<byte[]> RECEIVE = ThreadLocal.withInitial(() -> new byte[TensorBytes.MAX_MESSAGE_BYTES]);
  private static final ThreadLocal<ByteBuffer> ENCODE =
      ThreadLocal.withInitial(() -> ByteBuffer.allocate(64 << 10).order(ByteOrder.LITTLE_ENDIAN));

  private FlowMessages() {}

  /** A message as sent ({@link Header}, {@link Floats}, {@link Ack}) or as received ({@link Received}). */
  sealed interface Msg permits Header, Floats, Ack, Received {}

  /** The first message of a stream: which step, and which receive slot (the trainer's rank). */
  record Header(long step, int slot) implements Msg {}

  /** {@code count} floats of {@code src} from {@code from}, sent as little-endian bytes. */
  record Floats(float[] src, int from, int count) implements Msg {}

  /** The replica's answer: the data bytes it received on this stream. */
  record Ack(long bytes) implements Msg {}

  /**
   * A message as received: the first {@code length} bytes of {@code data}. Large messages land in a
   * per-thread array that the next parse on the thread overwrites, so the receiver consumes them in
   * its {@code onNext} (gRPC parses and delivers on the same thread); small ones get their own array.
   */
  record Received(byte[] data, int length) implements Msg {
    Header header() {
      ByteBuffer b = ByteBuffer.wrap(data, 0, length);
      return new Header(b.getLong(0), b.getInt(Long.BYTES));
    }

    long ack() {
      return ByteBuffer.wrap(data, 0, length).getLong(0);
    }

    /** Decodes the data into {@code dst} from {@code offset}; returns the number of floats. */
    int decodeInto(float[] dst, int offset) {
      int n = length / Float.BYTES;
      ByteBuffer.wrap(data, 0, length).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(dst, offset, n);
      return n;
    }
  }

  static final MethodDescriptor.Marshaller<Msg> MARSHALLER = new MethodDescriptor.Marshaller<>() {
    @Override
    public InputStream stream(Msg m) {
      if (m instanceof Floats f) {
        return new FloatStream(f);
      }
      ByteBuffer b = ByteBuffer.allocate(HEADER_BYTES);
      if (m instanceof Header h) {
        b.putLong(h.step()).putInt(h.slot());
      } else if (m instanceof Ack a) {
        b.putLong(a.bytes()).putInt(0);
      } else {
        throw new IllegalArgumentException("a received message is not sent: " + m);
      }
      return new ByteArrayInputStream(b.array());
    }

    @Override
    public Msg parse(InputStream in) {
      try {
        byte[] buf = RECEIVE.get();
        int n = BenchProcess.readMessage(in, buf);
        return n <= SMALL ? new Received(java.util.Arrays.copyOf(buf, n), n) : new Received(buf, n);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  };

  static final MethodDescriptor<Msg, Msg> PUSH = MethodDescriptor.<Msg, Msg>newBuilder()
      .setType(MethodDescriptor.MethodType.CLIENT_STREAMING)
      .setFullMethodName(MethodDescriptor.generateFullMethodName("shardopt.bench.v1.Replica", "Push"))
      .setRequestMarshaller(MARSHALLER).setResponseMarshaller(MARSHALLER).build();

  /** The messages of one stream: the header, then {@code src} in chunks. */
  static java.util.Iterator<Msg> stream(long step, int slot, float[] src) {
    return new java.util.Iterator<>() {
      int next = -1; // -1: the header

      @Override
      public boolean hasNext() {
        return next < src.length;
      }

      @Override
      public Msg next() {
        if (next < 0) {
          next = 0;
          return new Header(step, slot);
        }
        int n = Math.min(CHUNK_FLOATS, src.length - next);
        Floats f = new Floats(src, next, n);
        next += n;
        return f;
      }
    };
  }

  /** Floats written into gRPC's output stream through a small reused little-endian array. */
  private static final class FloatStream extends InputStream implements Drainable, KnownLength {
    private final Floats f;
    private int done; // floats already written

    FloatStream(Floats f) {
      this.f = f;
    }

    @Override
    public int drainTo(OutputStream target) throws IOException {
      ByteBuffer buf = ENCODE.get();
      int per = buf.capacity() / Float.BYTES;
      int written = 0;
      while (done < f.count()) {
        int n = Math.min(per, f.count() - done);
        buf.clear();
        buf.asFloatBuffer().put(f.src(), f.from() + done, n);
        target.write(buf.array(), 0, n * Float.BYTES);
        done += n;
        written += n * Float.BYTES;
      }
      return written;
    }

    @Override
    public int available() {
      return (f.count() - done) * Float.BYTES;
    }

    @Override
    public int read() {
      throw new UnsupportedOperationException("drained, not read");
    }

    @Override
    public int read(byte[] b, int off, int len) {
      // Only used by a transport that does not drain: encode float by float.
      if (done >= f.count()) {
        return -1;
      }
      int n = Math.min(len / Float.BYTES, f.count() - done);
      if (n == 0) {
        throw new UnsupportedOperationException("read of fewer than 4 bytes");
      }
      ByteBuffer.wrap(b, off, n * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().put(f.src(), f.from() + done, n);
      done += n;
      return n * Float.BYTES;
    }
  }
}
