package dev.shardopt.rpc.wire;

import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A service definition with some methods bound to other descriptors of the same full name (other
 * marshallers): the rest keep the generated binding, and the schema descriptor is kept, so
 * reflection still describes the service.
 */
public final class ServiceRebinding {
  private ServiceRebinding() {}

  /**
   * {@code generated}, each method named by one of {@code replacements} bound to that one instead.
   *
   * @throws IllegalArgumentException when a replacement names no method of the service
   */
  public static ServerServiceDefinition replace(ServerServiceDefinition generated,
      List<ServerMethodDefinition<?, ?>> replacements) {
    Map<String, ServerMethodDefinition<?, ?>> methods = new LinkedHashMap<>();
    for (ServerMethodDefinition<?, ?> m : generated.getMethods()) {
      methods.put(m.getMethodDescriptor().getFullMethodName(), m);
    }
    for (ServerMethodDefinition<?, ?> r : replacements) {
      String name = r.getMethodDescriptor().getFullMethodName();
      if (methods.put(name, r) == null) {
        throw new IllegalArgumentException(name + " is not a method of " + generated.getServiceDescriptor().getName());
      }
    }
    ServiceDescriptor original = generated.getServiceDescriptor();
    ServiceDescriptor.Builder descriptor = ServiceDescriptor.newBuilder(original.getName())
        .setSchemaDescriptor(original.getSchemaDescriptor());
    methods.values().forEach(m -> descriptor.addMethod(m.getMethodDescriptor()));
    ServerServiceDefinition.Builder out = ServerServiceDefinition.builder(descriptor.build());
    methods.values().forEach(out::addMethod);
    return out.build();
  }
}
