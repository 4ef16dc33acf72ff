package dev.shardopt.rpc.wire;

import com.google.protobuf.ByteString;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A data-plane message as received, with its chunk's tensor data apart: {@link #data} is either
 * views of gRPC's (Netty's) receive buffers, valid until {@link #close} releases them, or the
 * message's own bytes when it was parsed by copying. When the data is views, the message's own
 * {@code data} field is left empty. Whoever takes a Received decodes the data and closes it; closing
 * twice is harmless.
 */
public final class Received<M> implements AutoCloseable {
  private final M message;
  private final List<ByteBuffer> data;
  private final int dataSize;
  private InputStream buffers; // null: nothing held (or already released); guarded by this
  private final AtomicInteger held;

  private Received(M message, List<ByteBuffer> data, InputStream buffers, AtomicInteger held) {
    this.message = message;
    this.data = List.copyOf(data);
    this.dataSize = data.stream().mapToInt(ByteBuffer::remaining).sum();
    this.buffers = buffers;
    this.held = held;
  }

  /** A message that holds no transport buffer; {@code data} is its chunk's data field. */
  public static <M> Received<M> of(M message, ByteString data) {
    return new Received<>(message, data.asReadOnlyByteBufferList(), null, null);
  }

  /** A message whose chunk data is {@code data}, views of {@code buffers}, counted in {@code held} until closed. */
  static <M> Received<M> aliasing(M message, List<ByteBuffer> data, InputStream buffers, AtomicInteger held) {
    return new Received<>(message, data, buffers, held);
  }

  /** The message; its chunk's {@code data} field is empty when {@link #data} are views of gRPC's buffers. */
  public M message() {
    return message;
  }

  /**
   * The chunk's data bytes, in order, each buffer's from its position to its limit (read-only; do
   * not read after {@link #close}). Read them with absolute gets or through duplicates, as
   * {@code TensorBytes.decode} does, leaving positions where they are: a view per piece of a 4 MiB
   * message in 16 KiB frames was a cost measured on the receive path.
   */
  public List<ByteBuffer> data() {
    return data;
  }

  /** Bytes in {@link #data}. */
  public int dataSize() {
    return dataSize;
  }

  /** Releases the transport buffers the data is a view of. */
  @Override
  public void close() {
    InputStream b;
    synchronized (this) {
      b = buffers;
      buffers = null;
    }
    if (b == null) {
      return;
    }
    held.decrementAndGet();
    try {
      b.close();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
