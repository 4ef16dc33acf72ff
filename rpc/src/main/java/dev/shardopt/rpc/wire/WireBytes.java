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

  /** The message's bytes, whole: only before any of the stream has been read. */
  byte[] message() {
    if (pos != 0 || mark != 0) {
      throw new IllegalStateException("the stream was read before parsing");
    }
    return buf;
  }

  boolean unread() {
    return pos == 0 && mark == 0;
  }
}
