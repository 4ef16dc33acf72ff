package dev.shardopt.rpc.wire;

import dev.shardopt.v1.PullResponse;
import dev.shardopt.v1.PushRequest;
import dev.shardopt.v1.PushResponse;
import dev.shardopt.v1.TensorChunk;
import dev.shardopt.v1.WorkerGrpc;
import dev.shardopt.v1.WriteParametersResponse;
import dev.shardopt.v1.PullRequest;
import io.grpc.MethodDescriptor;

/**
 * The Worker service's data-plane methods with the zero-copy marshallers: the same full method
 * names, types on the wire and schema as the generated {@link WorkerGrpc} descriptors (so every
 * client in every language sees the same service), only the Java types and marshalling differ.
 * Each instance has its own marshallers, whose counters ({@link ReceivingMarshaller#held}) a test
 * can read.
 */
public final class WorkerWire {
  private final ReceivingMarshaller<PushRequest> pushReceiver = pushRequests();
  private final ReceivingMarshaller<TensorChunk> writeReceiver = tensorChunks();
  private final ReceivingMarshaller<PullResponse> pullReceiver = pullResponses();

  /** PushRequest: the chunk is field 2. */
  public static ReceivingMarshaller<PushRequest> pushRequests() {
    return new ReceivingMarshaller<>(PushRequest.getDefaultInstance(), PushRequest.CHUNK_FIELD_NUMBER,
        m -> m.getChunk().getData(), (m, c) -> m.toBuilder().setChunk(c).build());
  }

  /** PullResponse: the chunk is field 2. */
  public static ReceivingMarshaller<PullResponse> pullResponses() {
    return new ReceivingMarshaller<>(PullResponse.getDefaultInstance(), PullResponse.CHUNK_FIELD_NUMBER,
        m -> m.getChunk().getData(), (m, c) -> m.toBuilder().setChunk(c).build());
  }

  /** A TensorChunk itself (WriteParameters). */
  public static ReceivingMarshaller<TensorChunk> tensorChunks() {
    return new ReceivingMarshaller<>(TensorChunk.getDefaultInstance(), 0, TensorChunk::getData, (m, c) -> c);
  }

  /** Server side of Push: requests parsed over gRPC's buffers. */
  public MethodDescriptor<Received<PushRequest>, PushResponse> pushServer() {
    MethodDescriptor<PushRequest, PushResponse> m = WorkerGrpc.getPushMethod();
    return m.toBuilder(pushReceiver, m.getResponseMarshaller()).build();
  }

  /** Server side of WriteParameters: chunks parsed over gRPC's buffers. */
  public MethodDescriptor<Received<TensorChunk>, WriteParametersResponse> writeParametersServer() {
    MethodDescriptor<TensorChunk, WriteParametersResponse> m = WorkerGrpc.getWriteParametersMethod();
    return m.toBuilder(writeReceiver, m.getResponseMarshaller()).build();
  }

  /** Client side of Push: chunks written from their floats. */
  public MethodDescriptor<Outbound<PushRequest>, PushResponse> pushClient() {
    MethodDescriptor<PushRequest, PushResponse> m = WorkerGrpc.getPushMethod();
    return m.toBuilder(new OutboundMarshaller<>(PushRequest.getDefaultInstance()), m.getResponseMarshaller()).build();
  }

  /** Client side of WriteParameters: chunks written from their floats. */
  public MethodDescriptor<Outbound<TensorChunk>, WriteParametersResponse> writeParametersClient() {
    MethodDescriptor<TensorChunk, WriteParametersResponse> m = WorkerGrpc.getWriteParametersMethod();
    return m.toBuilder(new OutboundMarshaller<>(TensorChunk.getDefaultInstance()), m.getResponseMarshaller()).build();
  }

  /** Client side of Pull: responses parsed over gRPC's buffers. */
  public MethodDescriptor<PullRequest, Received<PullResponse>> pullClient() {
    MethodDescriptor<PullRequest, PullResponse> m = WorkerGrpc.getPullMethod();
    return m.toBuilder(m.getRequestMarshaller(), pullReceiver).build();
  }

  /** Received messages still holding gRPC buffers, over every method of this instance: 0 when all were released. */
  public int held() {
    return pushReceiver.held() + writeReceiver.held() + pullReceiver.held();
  }

  /** Messages parsed over gRPC's buffers (not copied), over every method of this instance. */
  public long aliasedParses() {
    return pushReceiver.aliasedParses() + writeReceiver.aliasedParses() + pullReceiver.aliasedParses();
  }

  /** Messages parsed by copying, over every method of this instance. */
  public long copiedParses() {
    return pushReceiver.copiedParses() + writeReceiver.copiedParses() + pullReceiver.copiedParses();
  }
}
