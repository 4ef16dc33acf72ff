package dev.shardopt.rpc.wire;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.UnsafeByteOperations;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.WireFormat;
import dev.shardopt.v1.TensorChunk;
import io.grpc.Detachable;
import io.grpc.HasByteBuffer;
import io.grpc.KnownLength;
import io.grpc.MethodDescriptor;
import io.grpc.protobuf.ProtoUtils;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiFunction;
import java.util.function.Function;

/**
 * Parses a data-plane message (one {@code TensorChunk}, alone or as a field of the message) without
 * copying its tensor data: when gRPC hands over its receive buffers ({@link Detachable} and
 * {@link HasByteBuffer}, as the Netty transport does), the stream is detached from gRPC and its
 * buffers walked in place; the chunk's {@code data} field becomes views of them ({@link
 * Received#data}), held until the Received is closed, and every other field (a few bytes) is copied
 * and parsed by protobuf. (protobuf-java 4 copies a direct buffer it is asked to wrap, so aliasing
 * through protobuf itself is not possible.)
 *
 * <p>The fast path takes the canonical shape only: anything else (the chunk or its data field twice,
 * groups, a malformed varint or length) is parsed by protobuf's generated marshaller instead, from a
 * copy, so the result or the error (INTERNAL, "Invalid protobuf byte sequence") is exactly the
 * generated one. gRPC's own stream without byte buffers is read into one array and parsed in place;
 * any other stream (the in-process transport's) is parsed the generated way too.
 */
public final class ReceivingMarshaller<M extends Message> implements MethodDescriptor.Marshaller<Received<M>> {
  private static final int TENSOR_CHUNK_DATA = 4;

  private final MethodDescriptor.Marshaller<M> copying;
  private final M defaultInstance;
  private final int chunkField;
  private final Function<M, ByteString> dataOf;
  private final BiFunction<M, TensorChunk, M> withChunk;
  private final AtomicInteger held = new AtomicInteger();
  private final AtomicLong aliased = new AtomicLong();
  private final AtomicLong copied = new AtomicLong();

  /**
   * @param chunkField the message's TensorChunk field, or 0 when the message is a TensorChunk
   * @param dataOf the chunk's data field of a message
   * @param withChunk the message with its chunk field set
   */
  public ReceivingMarshaller(M defaultInstance, int chunkField, Function<M, ByteString> dataOf,
      BiFunction<M, TensorChunk, M> withChunk) {
    this.copying = ProtoUtils.marshaller(defaultInstance);
    this.defaultInstance = defaultInstance;
    this.chunkField = chunkField;
    this.dataOf = dataOf;
    this.withChunk = withChunk;
  }

  @Override
  public InputStream stream(Received<M> value) {
    return copying.stream(value.message());
  }

  @Override
  public Received<M> parse(InputStream stream) {
    byte[] whole = stream instanceof WireBytes w ? w.unreadMessage() : null;
    if (whole != null) {
      return parseAliasing(whole);
    }
    if (stream instanceof Detachable d && stream instanceof HasByteBuffer h && h.byteBufferSupported()
        && stream.markSupported()) {
      InputStream detached = d.detach();
      held.incrementAndGet();
      boolean keep = false;
      try {
        List<ByteBuffer> buffers = views(detached);
        Received<M> r = fastParse(buffers, detached);
        if (r != null) {
          aliased.incrementAndGet();
          keep = true;
          return r;
        }
        M m = copying.parse(new ByteArrayInputStream(concat(buffers)));
        copied.incrementAndGet();
        return Received.of(m, dataOf.apply(m));
      } finally {
        if (!keep) {
          held.decrementAndGet();
          closeQuietly(detached);
        }
      }
    }
    copied.incrementAndGet();
    if (stream instanceof Detachable && stream instanceof KnownLength) {
      // gRPC's own stream, its buffers not offered as byte buffers: gRPC joins runs of small frames
      // (under 1 KiB each) into heap arrays, which have none, so a few messages in a hundred come so.
      // One copy into an array nobody else writes to, parsed in place, not protobuf's two.
      return parseAliasing(readWhole(stream));
    }
    M m = copying.parse(stream);
    return Received.of(m, dataOf.apply(m));
  }

  /** The rest of {@code stream}, whose length {@link KnownLength} promises, in one exact-size array. */
  private static byte[] readWhole(InputStream stream) {
    try {
      // readNBytes(int) would read into 8 KiB arrays and copy those again; this reads straight in.
      byte[] whole = new byte[stream.available()];
      int n = stream.readNBytes(whole, 0, whole.length);
      if (n != whole.length) {
        throw io.grpc.Status.INTERNAL.withDescription("gRPC's message stream ended after " + n + " of the "
            + whole.length + " bytes it announced").asRuntimeException();
      }
      if (stream.read() != -1) {
        throw io.grpc.Status.INTERNAL.withDescription("gRPC's message stream held more than the " + whole.length
            + " bytes it announced").asRuntimeException();
      }
      return whole;
    } catch (IOException e) {
      throw io.grpc.Status.INTERNAL.withDescription("reading a message failed: " + e).withCause(e).asRuntimeException();
    }
  }

  /**
   * A whole message in an array nobody else writes to: parsed by protobuf with aliasing, so that the
   * chunk's data is a view of the array, not a copy. Errors as the generated marshaller's.
   */
  @SuppressWarnings("unchecked")
  private Received<M> parseAliasing(byte[] message) {
    try {
      // protobuf aliases bytes fields only of an input it may treat as immutable: a wrapped ByteString's
      CodedInputStream in = UnsafeByteOperations.unsafeWrap(message).newCodedInput();
      in.enableAliasing(true);
      in.setSizeLimit(Integer.MAX_VALUE);
      M m = (M) defaultInstance.getParserForType().parseFrom(in);
      return Received.of(m, dataOf.apply(m));
    } catch (InvalidProtocolBufferException e) {
      throw io.grpc.Status.INTERNAL.withDescription("Invalid protobuf byte sequence").withCause(e).asRuntimeException();
    }
  }

  /** Messages parsed over gRPC's buffers and not yet released (a leak check for tests). */
  public int held() {
    return held.get();
  }

  /**
   * Messages parsed by copying since this marshaller was made: not in the shape the fast path takes,
   * or handed over by gRPC without byte buffers (the in-process transport's arrays are counted as
   * neither).
   */
  public long copiedParses() {
    return copied.get();
  }

  /** Messages parsed over gRPC's buffers since this marshaller was made. */
  public long aliasedParses() {
    return aliased.get();
  }

  /**
   * Read-only views of every buffer of the stream, which keeps them (marked first, so that skipping
   * does not release them). Nothing moves their positions: the views of the data handed on are these
   * or slices of them.
   */
  private static List<ByteBuffer> views(InputStream detached) {
    try {
      detached.mark(Integer.MAX_VALUE);
      List<ByteBuffer> out = new ArrayList<>();
      HasByteBuffer buffers = (HasByteBuffer) detached;
      while (detached.available() > 0) {
        ByteBuffer b = buffers.getByteBuffer();
        int n = b.remaining();
        out.add(b.asReadOnlyBuffer());
        for (long skipped = 0; skipped < n; ) {
          long s = detached.skip(n - skipped);
          if (s <= 0) {
            throw new IOException("gRPC's buffer stream did not skip " + (n - skipped) + " bytes");
          }
          skipped += s;
        }
      }
      return out;
    } catch (IOException e) {
      throw io.grpc.Status.INTERNAL.withDescription("Invalid protobuf byte sequence").withCause(e).asRuntimeException();
    }
  }

  /** The message with its data as views, or null when the input is not in the shape the fast path takes. */
  @SuppressWarnings("unchecked")
  private Received<M> fastParse(List<ByteBuffer> buffers, InputStream detached) {
    BufferCursor in = new BufferCursor(buffers);
    ByteArrayOutputStream rest = new ByteArrayOutputStream();
    ByteArrayOutputStream chunkRest = new ByteArrayOutputStream();
    List<List<ByteBuffer>> data = new ArrayList<>(1);
    try {
      boolean chunkSeen = false;
      if (chunkField == 0) {
        walkChunk(in, Long.MAX_VALUE, chunkRest, data);
        chunkSeen = true;
      } else {
        while (in.hasMore()) {
          int tag = readTag(in);
          if (tag >>> 3 == chunkField && (tag & 7) == WireFormat.WIRETYPE_LENGTH_DELIMITED) {
            if (chunkSeen) {
              return null; // protobuf merges the two: leave that to it
            }
            chunkSeen = true;
            int n = in.readLength();
            walkChunk(in, in.position() + n, chunkRest, data);
          } else {
            copyField(in, tag, rest);
          }
        }
      }
      TensorChunk chunk = TensorChunk.parseFrom(chunkRest.toByteArray());
      M message;
      if (chunkField == 0) {
        message = (M) chunk;
      } else {
        M outer = (M) defaultInstance.getParserForType().parseFrom(rest.toByteArray());
        message = chunkSeen ? withChunk.apply(outer, chunk) : outer;
      }
      return Received.aliasing(message, data.isEmpty() ? List.of() : data.get(0), detached, held);
    } catch (BufferCursor.Malformed | InvalidProtocolBufferException e) {
      return null;
    }
  }

  /** A TensorChunk's fields up to {@code end}: data as views, the others copied into {@code rest}. */
  private static void walkChunk(BufferCursor in, long end, ByteArrayOutputStream rest, List<List<ByteBuffer>> data)
      throws BufferCursor.Malformed {
    while (in.position() < end && in.hasMore()) {
      int tag = readTag(in);
      if (tag >>> 3 == TENSOR_CHUNK_DATA && (tag & 7) == WireFormat.WIRETYPE_LENGTH_DELIMITED) {
        if (!data.isEmpty()) {
          throw new BufferCursor.Malformed(); // data twice: the last wins in protobuf; leave it to protobuf
        }
        data.add(in.views(in.readLength()));
      } else {
        copyField(in, tag, rest);
      }
    }
    if (end != Long.MAX_VALUE && in.position() != end) {
      throw new BufferCursor.Malformed();
    }
  }

  private static int readTag(BufferCursor in) throws BufferCursor.Malformed {
    long tag = in.readVarint64();
    if (tag <= 0 || tag > Integer.MAX_VALUE) {
      throw new BufferCursor.Malformed(); // protobuf's own parse decides what that is
    }
    return (int) tag;
  }

  /** Copies one field (its tag already read) into {@code out}, as it was. */
  private static void copyField(BufferCursor in, int tag, ByteArrayOutputStream out) throws BufferCursor.Malformed {
    if (tag >>> 3 == 0) {
      throw new BufferCursor.Malformed();
    }
    try {
      CodedOutputStream o = CodedOutputStream.newInstance(out, 16);
      o.writeUInt32NoTag(tag);
      switch (tag & 7) {
        case WireFormat.WIRETYPE_VARINT -> o.writeUInt64NoTag(in.readVarint64());
        case WireFormat.WIRETYPE_FIXED64 -> {
          for (int i = 0; i < 8; i++) {
            o.write((byte) in.readByte());
          }
        }
        case WireFormat.WIRETYPE_FIXED32 -> {
          for (int i = 0; i < 4; i++) {
            o.write((byte) in.readByte());
          }
        }
        case WireFormat.WIRETYPE_LENGTH_DELIMITED -> {
          int n = in.readLength();
          o.writeUInt32NoTag(n);
          o.flush();
          in.copy(n, out);
        }
        default -> throw new BufferCursor.Malformed(); // groups: protobuf's parse
      }
      o.flush();
    } catch (IOException e) {
      throw new BufferCursor.Malformed();
    }
  }

  private static byte[] concat(List<ByteBuffer> buffers) {
    int n = buffers.stream().mapToInt(ByteBuffer::remaining).sum();
    byte[] out = new byte[n];
    int at = 0;
    for (ByteBuffer b : buffers) {
      int k = b.remaining();
      b.duplicate().get(out, at, k);
      at += k;
    }
    return out;
  }

  private static void closeQuietly(InputStream s) {
    try {
      s.close();
    } catch (IOException | RuntimeException e) {
      // releasing after a failed parse: the parse's error is the one to report
    }
  }
}
