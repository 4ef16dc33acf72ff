package dev.shardopt.rpc;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;

/**
 * An error of the Shardopt API with its canonical status code, thrown by the plain domain classes
 * and turned into a gRPC status by the thin service classes. The message says what was wrong and
 * what is allowed.
 */
public final class ApiException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final Status.Code code;

  public ApiException(Status.Code code, String message) {
    super(message);
    this.code = code;
  }

  public ApiException(Status.Code code, String message, Throwable cause) {
    super(message, cause);
    this.code = code;
  }

  public Status.Code code() {
    return code;
  }

  public static ApiException invalidArgument(String message) {
    return new ApiException(Status.Code.INVALID_ARGUMENT, message);
  }

  public static ApiException notFound(String message) {
    return new ApiException(Status.Code.NOT_FOUND, message);
  }

  public static ApiException failedPrecondition(String message) {
    return new ApiException(Status.Code.FAILED_PRECONDITION, message);
  }

  public static ApiException unavailable(String message) {
    return new ApiException(Status.Code.UNAVAILABLE, message);
  }

  public static ApiException deadlineExceeded(String message) {
    return new ApiException(Status.Code.DEADLINE_EXCEEDED, message);
  }

  public static ApiException outOfRange(String message) {
    return new ApiException(Status.Code.OUT_OF_RANGE, message);
  }

  public static ApiException resourceExhausted(String message) {
    return new ApiException(Status.Code.RESOURCE_EXHAUSTED, message);
  }

  public static ApiException alreadyExists(String message) {
    return new ApiException(Status.Code.ALREADY_EXISTS, message);
  }

  /** The gRPC form, for a service to hand to {@code onError}. */
  public StatusRuntimeException toStatus() {
    return Status.fromCode(code).withDescription(getMessage()).asRuntimeException();
  }

  /** Any throwable as a gRPC status: ApiExceptions keep their code, anything else is INTERNAL. */
  public static StatusRuntimeException toStatus(Throwable t) {
    if (t instanceof ApiException a) {
      return a.toStatus();
    }
    if (t instanceof StatusRuntimeException s) {
      return s;
    }
    if (t instanceof IllegalArgumentException) {
      return Status.INVALID_ARGUMENT.withDescription(t.getMessage()).asRuntimeException();
    }
    return Status.INTERNAL.withDescription(String.valueOf(t)).withCause(t).asRuntimeException();
  }
}
