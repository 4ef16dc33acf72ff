package dev.shardopt.rpc.local;

import dev.shardopt.rpc.wire.ServiceRebinding;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.MethodDescriptor;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** Both ends of an in-process call with {@link SerializingMarshaller}s: requests on the channel, responses on the server. */
final class SerializingCalls implements ClientInterceptor {
  private final Map<MethodDescriptor<?, ?>, MethodDescriptor<?, ?>> rebound = new ConcurrentHashMap<>();

  @Override
  @SuppressWarnings("unchecked")
  public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
    MethodDescriptor<Q, R> m = (MethodDescriptor<Q, R>) rebound.computeIfAbsent(method,
        d -> SerializingMarshaller.serializing(d));
    return next.newCall(m, options);
  }

  /** {@code service} with every method's messages serialized at send time. */
  static ServerServiceDefinition serializing(ServerServiceDefinition service) {
    List<ServerMethodDefinition<?, ?>> methods = new ArrayList<>();
    for (ServerMethodDefinition<?, ?> m : service.getMethods()) {
      methods.add(serializing(m));
    }
    return ServiceRebinding.replace(service, methods);
  }

  private static <Q, R> ServerMethodDefinition<Q, R> serializing(ServerMethodDefinition<Q, R> m) {
    return ServerMethodDefinition.create(SerializingMarshaller.serializing(m.getMethodDescriptor()),
        m.getServerCallHandler());
  }
}
