package dev.shardopt.client;

import dev.shardopt.rpc.security.TransportErrors;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;
import java.util.Objects;

/**
 * A Shardopt call failed: a coordinator or worker answered with an error status, could not be
 * reached, or answered with data the client cannot accept (a pull that does not cover a tensor
 * exactly once, workers at different steps).
 *
 * <p>{@link #code()} is the gRPC status code ({@code INTERNAL} for data the client refused,
 * {@code ABORTED} when workers kept answering with different steps), {@link #serverMessage()} the
 * server's own description, and {@link #address()} the {@code host:port} that answered, when one
 * did.
 */
public class ShardoptException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final Status.Code code;
  private final String address;
  private final String serverMessage;

  public ShardoptException(Status.Code code, String address, String message, String serverMessage,
      Throwable cause) {
    super(message, cause);
    this.code = Objects.requireNonNull(code, "code");
    this.address = address;
    this.serverMessage = serverMessage == null ? "" : serverMessage;
  }

  /** A failure the client itself detected. */
  public ShardoptException(Status.Code code, String message) {
    this(code, null, message, "", null);
  }

  /** The gRPC status code. */
  public Status.Code code() {
    return code;
  }

  /** {@code host:port} of the server involved, or null. */
  public String address() {
    return address;
  }

  /** The status description the server sent (empty when none, or when the client failed). */
  public String serverMessage() {
    return serverMessage;
  }

  /**
   * Wraps {@code t} as the failure of {@code what} (e.g. "push of step 3 to worker
   * 127.0.0.1:7071") at {@code address}; a ShardoptException passes through unchanged.
   */
  static ShardoptException of(Throwable t, String what, String address) {
    return of(t, what, address, true);
  }

  /**
   * As {@link #of(Throwable, String, String)}; a connection that failed for TLS says why ({@link
   * TransportErrors}), and so, for a client without TLS ({@code tls} false), does a server that hung up at once.
   */
  static ShardoptException of(Throwable t, String what, String address, boolean tls) {
    if (t instanceof ShardoptException se) {
      return se;
    }
    Status status = statusOf(t);
    if (status == null) {
      return new ShardoptException(
          Status.Code.INTERNAL, address, what + " failed: " + t, "", t);
    }
    String description = status.getDescription() == null ? "" : status.getDescription();
    String cause = status.getCause() != null && description.isEmpty()
        ? " (" + status.getCause() + ")" : "";
    cause += TransportErrors.tlsReason(status, tls).map(r -> ": " + r).orElse("");
    int newline = description.indexOf('\n'); // Netty appends its channel pipeline on a second line
    if (newline >= 0 && !cause.isEmpty()) {
      description = description.substring(0, newline);
    }
    return new ShardoptException(
        status.getCode(), address,
        what + " failed: " + status.getCode() + (description.isEmpty() ? "" : ": " + description)
            + cause,
        description, t);
  }

  /** The gRPC status of {@code t} or of a cause, or null. */
  static Status statusOf(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof StatusRuntimeException sre) {
        return sre.getStatus();
      }
      if (c instanceof StatusException se) {
        return se.getStatus();
      }
    }
    return null;
  }
}
