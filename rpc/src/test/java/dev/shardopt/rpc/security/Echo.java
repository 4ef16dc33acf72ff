package dev.shardopt.rpc.security;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.MethodDescriptor;
import io.grpc.ServerServiceDefinition;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ServerCalls;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.concurrent.TimeUnit;

/** A unary method of raw bytes: the service answers what it was sent. For tests of the transport. */
final class Echo {
  static final MethodDescriptor.Marshaller<byte[]> BYTES = new MethodDescriptor.Marshaller<>() {
    @Override
    public InputStream stream(byte[] value) {
      return new ByteArrayInputStream(value);
    }

    @Override
    public byte[] parse(InputStream stream) {
      try {
        return stream.readAllBytes();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  };

  /** {@code fullName} as a unary method of bytes. */
  static MethodDescriptor<byte[], byte[]> method(String fullName) {
    return MethodDescriptor.<byte[], byte[]>newBuilder(BYTES, BYTES).setFullMethodName(fullName)
        .setType(MethodDescriptor.MethodType.UNARY).build();
  }

  static final MethodDescriptor<byte[], byte[]> ECHO = method("shardopt.test.Echo/Echo");

  static ServerServiceDefinition service() {
    return ServerServiceDefinition.builder("shardopt.test.Echo")
        .addMethod(ECHO, ServerCalls.asyncUnaryCall((request, response) -> {
          response.onNext(request);
          response.onCompleted();
        })).build();
  }

  /** Calls Echo on {@code channel} with a 10 s deadline. */
  static byte[] call(Channel channel, byte[] request) {
    return ClientCalls.blockingUnaryCall(channel, ECHO, CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS), request);
  }

  private Echo() {}
}
