package dev.shardopt.rpc.wire;

import io.grpc.KnownLength;
import java.io.ByteArrayInputStream;

/**
 * One whole serialized message in an array, as a stream for gRPC. A {@link ReceivingMarshaller}
 * given one parses the array in place, its chunk data aliasing it, instead of copying it twice as
 * the generated marshaller does (into a parse buffer, then into a {@code ByteString}). The in-process
 * transport carries these ({@code SerializingMarshaller}).
 */
public final class WireBytes extends ByteArrayInputStream implements KnownLength {
  public WireBytes(byte[] message) {
    super(message);
  }

  /** The message's bytes, whole, when none of the stream has been read yet; else null. */
  byte[] unreadMessage() {
    return pos == 0 && mark == 0 ? buf : null;
  }
}
