package dev.shardopt.rpc.wire;

import com.google.protobuf.Message;
import io.grpc.MethodDescriptor;
import io.grpc.protobuf.ProtoUtils;
import java.io.InputStream;

/**
 * Writes {@link Outbound} messages: float chunks straight from their arrays into gRPC's buffers
 * ({@link FloatChunkStream}), other messages through protobuf's generated marshaller. Parsing gives
 * the generated message (a sender never parses its own requests; tests do).
 */
public final class OutboundMarshaller<M extends Message> implements MethodDescriptor.Marshaller<Outbound<M>> {
  private final MethodDescriptor.Marshaller<M> protobuf;

  public OutboundMarshaller(M defaultInstance) {
    this.protobuf = ProtoUtils.marshaller(defaultInstance);
  }

  @Override
  public InputStream stream(Outbound<M> value) {
    return value.stream(protobuf);
  }

  @Override
  public Outbound<M> parse(InputStream stream) {
    return Outbound.message(protobuf.parse(stream));
  }
}
