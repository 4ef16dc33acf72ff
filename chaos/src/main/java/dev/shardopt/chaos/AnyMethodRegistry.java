package dev.shardopt.chaos;

import io.grpc.HandlerRegistry;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCallHandler;
import io.grpc.ServerMethodDefinition;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * Serves every full method name with one handler over raw bytes, so the proxy forwards services it
 * has never heard of. The method type is UNKNOWN: the proxy cannot tell unary from streaming, and
 * does not need to, since it relays messages one by one in both directions.
 */
final class AnyMethodRegistry extends HandlerRegistry {
  private final ServerCallHandler<byte[], byte[]> handler;
  private final RawBytes bytes = new RawBytes();
  private final ConcurrentMap<String, ServerMethodDefinition<byte[], byte[]>> methods = new ConcurrentHashMap<>();

  AnyMethodRegistry(ServerCallHandler<byte[], byte[]> handler) {
    this.handler = handler;
  }

  @Override
  public ServerMethodDefinition<?, ?> lookupMethod(String methodName, String authority) {
    return methods.computeIfAbsent(methodName, name -> ServerMethodDefinition.create(
        MethodDescriptor.newBuilder(bytes, bytes).setFullMethodName(name).setType(MethodDescriptor.MethodType.UNKNOWN).build(),
        handler));
  }
}
