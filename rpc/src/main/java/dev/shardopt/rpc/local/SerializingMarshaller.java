package dev.shardopt.rpc.local;

import io.grpc.MethodDescriptor;
import dev.shardopt.rpc.wire.WireBytes;
import io.grpc.KnownLength;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/**
 * Serializes each message when it is sent, as a socket transport does. gRPC's in-process transport
 * hands the receiver the very stream (or protobuf message) the sender's marshaller made, read later
 * on another thread; Shardopt's data plane writes chunks lazily from live arrays and pooled pull
 * buffers, which the sender may change or reuse once the send returns. So every in-process call
 * goes through this: the bytes are fixed at send time, and parsing is the inner marshaller's.
 */
final class SerializingMarshaller<T> implements MethodDescriptor.Marshaller<T> {
  private final MethodDescriptor.Marshaller<T> inner;

  SerializingMarshaller(MethodDescriptor.Marshaller<T> inner) {
    this.inner = inner;
  }

  @Override
  public InputStream stream(T value) {
    try (InputStream in = inner.stream(value)) {
      if (in instanceof KnownLength) { // protobuf's and Shardopt's streams: one array of the exact size
        byte[] bytes = new byte[in.available()];
        int n = in.readNBytes(bytes, 0, bytes.length);
        if (n == bytes.length && in.read() == -1) {
          return new WireBytes(bytes);
        }
        throw new IOException("a message stream gave " + n + " bytes and more, not the " + bytes.length + " it announced");
      }
      return new WireBytes(in.readAllBytes());
    } catch (IOException e) {
      throw new UncheckedIOException("could not serialize a message for an in-process call", e);
    }
  }

  @Override
  public T parse(InputStream stream) {
    return inner.parse(stream);
  }

  /** {@code method} with both marshallers serializing at send time. */
  static <Q, R> MethodDescriptor<Q, R> serializing(MethodDescriptor<Q, R> method) {
    return method.toBuilder(new SerializingMarshaller<>(method.getRequestMarshaller()),
        new SerializingMarshaller<>(method.getResponseMarshaller())).build();
  }
}
