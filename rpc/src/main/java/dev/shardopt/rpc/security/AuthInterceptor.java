package dev.shardopt.rpc.security;

import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Checks every call's bearer token against {@link AuthTokens} and the method's rule in {@link AccessPolicy}
 * before the service sees it: no or an unknown token is UNAUTHENTICATED, a known token outside its role
 * PERMISSION_DENIED naming the RPC and the role it needs. Nothing it says or logs contains a token.
 */
public final class AuthInterceptor implements ServerInterceptor {
  private static final Logger log = LoggerFactory.getLogger(AuthInterceptor.class);
  private static final String BEARER = "Bearer ";

  private final AuthTokens tokens;
  private final AccessPolicy policy;

  public AuthInterceptor(AuthTokens tokens, AccessPolicy policy) {
    this.tokens = tokens;
    this.policy = policy;
  }

  @Override
  public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
    String method = call.getMethodDescriptor().getFullMethodName();
    Optional<AccessPolicy.Rule> rule = policy.ruleOf(method);
    if (rule.isEmpty()) {
      return refuse(call, Status.PERMISSION_DENIED.withDescription(method + " has no access rule: refused to every role"));
    }
    if (rule.get().open()) {
      return next.startCall(call, headers);
    }
    String value = headers.get(BearerToken.AUTHORIZATION);
    if (value == null) {
      return refuse(call, Status.UNAUTHENTICATED.withDescription(method + ": no bearer token; send the call metadata"
          + " 'authorization: Bearer <token>' (--token-file FILE or " + BearerToken.ENVIRONMENT_VARIABLE + ")"));
    }
    if (!value.regionMatches(true, 0, BEARER, 0, BEARER.length())) {
      return refuse(call, Status.UNAUTHENTICATED.withDescription(method
          + ": the authorization metadata must be 'Bearer <token>'"));
    }
    Optional<Role> role = tokens.roleOf(value.substring(BEARER.length()).strip());
    if (role.isEmpty()) {
      return refuse(call, Status.UNAUTHENTICATED.withDescription(method + ": unknown bearer token"));
    }
    if (!rule.get().allows(role.get())) {
      return refuse(call, Status.PERMISSION_DENIED.withDescription(method + " needs role " + rule.get().describe()
          + "; the token's role is " + role.get().label()));
    }
    return next.startCall(call, headers);
  }

  private static <Q, A> ServerCall.Listener<Q> refuse(ServerCall<Q, A> call, Status status) {
    log.debug("refused a call: {} {}", status.getCode(), status.getDescription());
    call.close(status, new Metadata());
    return new ServerCall.Listener<>() {};
  }
}
