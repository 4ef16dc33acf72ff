package dev.shardopt.rpc.wire;

import com.google.protobuf.ByteString;
import com.google.protobuf.Message;
import dev.shardopt.rpc.TensorBytes;
import dev.shardopt.v1.PushRequest;
import dev.shardopt.v1.TensorChunk;
import io.grpc.MethodDescriptor;
import java.io.InputStream;
import java.util.Objects;
import java.util.function.Function;

/**
 * A message of type {@code M} to send: either a protobuf message as built, or a {@link FloatChunk}
 * that {@link OutboundMarshaller} writes straight from its floats (as {@code M}'s chunk field, or
 * as {@code M} itself when {@code M} is TensorChunk).
 */
public final class Outbound<M extends Message> {
  /** PushRequest.chunk. */
  private static final int PUSH_REQUEST_CHUNK = 2;

  private final M message;
  private final FloatChunk chunk;
  private final int envelopeField;
  private final Function<TensorChunk, M> wrap;

  private Outbound(M message, FloatChunk chunk, int envelopeField, Function<TensorChunk, M> wrap) {
    this.message = message;
    this.chunk = chunk;
    this.envelopeField = envelopeField;
    this.wrap = wrap;
  }

  /** {@code message}, serialized by protobuf. */
  public static <M extends Message> Outbound<M> message(M message) {
    return new Outbound<>(Objects.requireNonNull(message), null, 0, null);
  }

  /** A PushRequest carrying only {@code chunk}. */
  public static Outbound<PushRequest> pushChunk(FloatChunk chunk) {
    return new Outbound<>(null, chunk, PUSH_REQUEST_CHUNK, c -> PushRequest.newBuilder().setChunk(c).build());
  }

  /** {@code chunk} as a TensorChunk message (a WriteParameters stream). */
  public static Outbound<TensorChunk> tensorChunk(FloatChunk chunk) {
    return new Outbound<>(null, chunk, 0, c -> c);
  }

  /** The wire bytes, as a stream for gRPC. */
  InputStream stream(MethodDescriptor.Marshaller<M> protobuf) {
    return chunk == null ? protobuf.stream(message) : new FloatChunkStream(chunk, envelopeField);
  }

  /** The equal generated message (its data encoded into a new array): for tests and logs, not the send path. */
  public M toMessage() {
    if (chunk == null) {
      return message;
    }
    ByteString data = TensorBytes.encode(chunk.values(), chunk.from(), chunk.count());
    return wrap.apply(TensorChunk.newBuilder().setModel(chunk.model()).setTensor(chunk.tensor())
        .setOffset(chunk.offset()).setData(data).setSlot(chunk.slot()).build());
  }
}
