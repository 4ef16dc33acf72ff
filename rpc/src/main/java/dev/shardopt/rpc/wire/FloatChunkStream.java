package dev.shardopt.rpc.wire;

import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.WireFormat;
import io.grpc.Drainable;
import io.grpc.KnownLength;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The serialized form of a {@link FloatChunk}, as a stream gRPC drains into its transport buffers:
 * the protobuf field tags and lengths written by hand, then the floats converted to little-endian
 * through a small buffer, so that no {@code byte[]} of the whole payload is ever made. The bytes are
 * exactly what protobuf's own serialization of the equal message gives ({@code toByteArray()}):
 * fields in number order, proto3 defaults (empty strings, offset 0, empty data) left out.
 *
 * <p>With {@code envelopeField} > 0 the chunk is that field of an outer message with no other field
 * set (PushRequest.chunk is field 2); with 0 the stream is the TensorChunk itself (WriteParameters).
 */
final class FloatChunkStream extends InputStream implements Drainable, KnownLength {
  private static final int TENSOR_CHUNK_MODEL = 1;
  private static final int TENSOR_CHUNK_TENSOR = 2;
  private static final int TENSOR_CHUNK_OFFSET = 3;
  private static final int TENSOR_CHUNK_DATA = 4;
  private static final int TENSOR_CHUNK_SLOT = 5;
  /**
   * Floats converted per write into gRPC's stream (8 KiB): the block is written and read back at
   * once, so it should stay in L1 beside the lines streaming through; gRPC sizes its buffers by the
   * message's known length (1 MiB each), not by these writes. Draining 64 MiB through gRPC's
   * MessageFramer into Netty's pooled buffers took 3.5 ms with 8 KiB blocks, 3.7 ms with 16 KiB,
   * 3.9-4.2 ms with 32 KiB and 11 ms with 1 MiB (a 48 KiB L1d; medians of 31).
   */
  private static final int BLOCK_FLOATS = 2048;

  private final FloatChunk chunk;
  private final byte[] head;
  private final byte[] tail;
  private final long dataBytes;
  private final long size;
  private long position;

  FloatChunkStream(FloatChunk chunk, int envelopeField) {
    this.chunk = chunk;
    this.dataBytes = (long) chunk.count() * Float.BYTES;
    int body = 0;
    if (!chunk.model().isEmpty()) {
      body += CodedOutputStream.computeStringSize(TENSOR_CHUNK_MODEL, chunk.model());
    }
    if (!chunk.tensor().isEmpty()) {
      body += CodedOutputStream.computeStringSize(TENSOR_CHUNK_TENSOR, chunk.tensor());
    }
    if (chunk.offset() != 0) {
      body += CodedOutputStream.computeUInt64Size(TENSOR_CHUNK_OFFSET, chunk.offset());
    }
    int dataHeader = dataBytes == 0 ? 0
        : CodedOutputStream.computeTagSize(TENSOR_CHUNK_DATA) + CodedOutputStream.computeUInt32SizeNoTag((int) dataBytes);
    int slot = chunk.slot().isEmpty() ? 0 : CodedOutputStream.computeStringSize(TENSOR_CHUNK_SLOT, chunk.slot());
    long bodySize = body + dataHeader + dataBytes + slot;
    if (bodySize > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("a chunk message of " + bodySize + " bytes is over protobuf's 2 GiB limit");
    }
    int envelope = envelopeField == 0 ? 0
        : CodedOutputStream.computeTagSize(envelopeField) + CodedOutputStream.computeUInt32SizeNoTag((int) bodySize);
    this.head = new byte[envelope + body + dataHeader];
    CodedOutputStream out = CodedOutputStream.newInstance(head);
    try {
      if (envelopeField != 0) {
        out.writeTag(envelopeField, WireFormat.WIRETYPE_LENGTH_DELIMITED);
        out.writeUInt32NoTag((int) bodySize);
      }
      if (!chunk.model().isEmpty()) {
        out.writeString(TENSOR_CHUNK_MODEL, chunk.model());
      }
      if (!chunk.tensor().isEmpty()) {
        out.writeString(TENSOR_CHUNK_TENSOR, chunk.tensor());
      }
      if (chunk.offset() != 0) {
        out.writeUInt64(TENSOR_CHUNK_OFFSET, chunk.offset());
      }
      if (dataBytes != 0) {
        out.writeTag(TENSOR_CHUNK_DATA, WireFormat.WIRETYPE_LENGTH_DELIMITED);
        out.writeUInt32NoTag((int) dataBytes);
      }
      out.checkNoSpaceLeft();
      this.tail = new byte[slot];
      if (slot > 0) {
        CodedOutputStream t = CodedOutputStream.newInstance(tail);
        t.writeString(TENSOR_CHUNK_SLOT, chunk.slot());
        t.checkNoSpaceLeft();
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e); // sizes computed above: cannot happen
    }
    this.size = head.length + dataBytes + tail.length;
  }

  @Override
  public int drainTo(OutputStream target) throws IOException {
    long from = position;
    if (position < head.length) {
      target.write(head, (int) position, head.length - (int) position);
      position = head.length;
    }
    long dataEnd = head.length + dataBytes;
    if (position < dataEnd) {
      if ((position - head.length) % Float.BYTES != 0) { // a read() stopped inside a float
        byte[] one = new byte[1];
        while ((position - head.length) % Float.BYTES != 0) {
          one[0] = dataByte(position - head.length);
          target.write(one);
          position++;
        }
      }
      byte[] block = new byte[(int) Math.min(BLOCK_FLOATS, (dataEnd - position) / Float.BYTES) * Float.BYTES];
      ByteBuffer bytes = ByteBuffer.wrap(block).order(ByteOrder.LITTLE_ENDIAN);
      int element = chunk.from() + (int) ((position - head.length) / Float.BYTES);
      int left = (int) ((dataEnd - position) / Float.BYTES);
      while (left > 0) {
        int n = Math.min(left, BLOCK_FLOATS);
        bytes.clear();
        bytes.asFloatBuffer().put(chunk.values(), element, n);
        target.write(block, 0, n * Float.BYTES);
        element += n;
        left -= n;
      }
      position = dataEnd;
    }
    if (position < size) {
      int at = (int) (position - dataEnd);
      target.write(tail, at, tail.length - at);
      position = size;
    }
    return (int) (position - from);
  }

  @Override
  public int available() {
    return (int) (size - position);
  }

  @Override
  public int read() {
    if (position >= size) {
      return -1;
    }
    return byteAt(position++) & 0xff;
  }

  @Override
  public int read(byte[] b, int off, int len) {
    if (len == 0) {
      return 0;
    }
    if (position >= size) {
      return -1;
    }
    int n = (int) Math.min(len, size - position);
    int done = 0;
    while (done < n) {
      long p = position;
      long inData = p - head.length;
      if (inData >= 0 && inData < dataBytes && inData % Float.BYTES == 0 && n - done >= Float.BYTES) {
        int floats = (int) Math.min((n - done) / Float.BYTES, (dataBytes - inData) / Float.BYTES);
        ByteBuffer.wrap(b, off + done, floats * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer()
            .put(chunk.values(), chunk.from() + (int) (inData / Float.BYTES), floats);
        done += floats * Float.BYTES;
        position += (long) floats * Float.BYTES;
      } else {
        b[off + done++] = byteAt(p);
        position++;
      }
    }
    return n;
  }

  private byte byteAt(long p) {
    if (p < head.length) {
      return head[(int) p];
    }
    long inData = p - head.length;
    if (inData < dataBytes) {
      return dataByte(inData);
    }
    return tail[(int) (inData - dataBytes)];
  }

  private byte dataByte(long inData) {
    int bits = Float.floatToRawIntBits(chunk.values()[chunk.from() + (int) (inData / Float.BYTES)]);
    return (byte) (bits >>> (8 * (int) (inData % Float.BYTES)));
  }
}
