package dev.shardopt.rpc.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import dev.shardopt.v1.CoordinatorGrpc;
import dev.shardopt.v1.WorkerGrpc;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.MetadataUtils;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Every method of every service the coordinator and the workers serve, called with no token, an unknown
 * one and each role's, through a real server with the token checks: the answer must be the one this
 * table (written from issue 12 §2, not from AccessPolicy) expects. A method this table does not know
 * fails the test: a new RPC needs a rule here and in AccessPolicy.
 */
class AccessTableTest {
  static final String TRAINER = "trainer-7b1e6f0a4c2d9e83";
  static final String WORKER = "worker-52c0d9a1e7f3b648";
  static final String ADMIN = "admin-0f9e8d7c6b5a4938";
  static final String UNKNOWN = "nobody-1a2b3c4d5e6f7a8b";

  /** Who may call what: "open" (no token needed), or the roles that may, as the refusal names them. */
  static final Map<String, String> TABLE = Map.ofEntries(
      Map.entry("shardopt.v1.Coordinator/RegisterWorker", "worker or admin"),
      Map.entry("shardopt.v1.Coordinator/Heartbeat", "worker or admin"),
      Map.entry("shardopt.v1.Coordinator/CreateModel", "admin"),
      Map.entry("shardopt.v1.Coordinator/GetModel", "trainer or admin"),
      Map.entry("shardopt.v1.Coordinator/ListModels", "admin"),
      Map.entry("shardopt.v1.Coordinator/DeleteModel", "admin"),
      Map.entry("shardopt.v1.Coordinator/GetShardMap", "trainer or admin"),
      Map.entry("shardopt.v1.Coordinator/UpdatePipeline", "admin"),
      Map.entry("shardopt.v1.Coordinator/GetPipelineSchedule", "worker or admin"),
      Map.entry("shardopt.v1.Coordinator/ParsePipeline", "trainer or admin"),
      Map.entry("shardopt.v1.Coordinator/ReportStep", "worker or admin"),
      Map.entry("shardopt.v1.Coordinator/ReportLoaded", "worker or admin"),
      Map.entry("shardopt.v1.Coordinator/GetStatus", "admin"),
      Map.entry("shardopt.v1.Coordinator/GetMetrics", "admin"),
      Map.entry("shardopt.v1.Coordinator/CheckpointModel", "admin"),
      Map.entry("shardopt.v1.Worker/CreateShards", "worker or admin"),
      Map.entry("shardopt.v1.Worker/DropModel", "worker or admin"),
      Map.entry("shardopt.v1.Worker/GetProgress", "worker or admin"),
      Map.entry("shardopt.v1.Worker/SnapshotShards", "worker or admin"),
      Map.entry("shardopt.v1.Worker/HoldPushes", "worker or admin"),
      Map.entry("shardopt.v1.Worker/PersistShards", "worker or admin"),
      Map.entry("shardopt.v1.Worker/WriteParameters", "worker or admin"),
      Map.entry("shardopt.v1.Worker/CopyShards", "worker or admin"),
      Map.entry("shardopt.v1.Worker/CommitCopy", "worker or admin"),
      Map.entry("shardopt.v1.Worker/Push", "trainer or admin"),
      Map.entry("shardopt.v1.Worker/Pull", "trainer or admin"),
      Map.entry("grpc.health.v1.Health/Check", "open"),
      Map.entry("grpc.health.v1.Health/Watch", "open"),
      Map.entry("grpc.reflection.v1.ServerReflection/ServerReflectionInfo", "trainer or worker or admin"));

  /** The services the coordinator and the workers expose (CoordinatorServer, WorkerServer). */
  static final List<ServiceDescriptor> SERVED = List.of(CoordinatorGrpc.getServiceDescriptor(),
      WorkerGrpc.getServiceDescriptor(), HealthGrpc.getServiceDescriptor(),
      io.grpc.reflection.v1.ServerReflectionGrpc.getServiceDescriptor());

  private GrpcSecurity security;
  private Server server;
  private ManagedChannel channel;

  @BeforeEach
  void start() throws Exception {
    AuthTokens tokens = AuthTokens.parse("test", List.of("trainer " + TRAINER, "worker " + WORKER, "admin " + ADMIN));
    security = GrpcSecurity.builder().authTokens(tokens).build();
    server = security.server("127.0.0.1", 0).fallbackHandlerRegistry(new ReachedRegistry()).build().start();
    channel = NettyChannelBuilder.forAddress("127.0.0.1", server.getPort()).usePlaintext().build();
  }

  @AfterEach
  void stop() throws Exception {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    server.shutdownNow().awaitTermination();
    security.close();
  }

  @Test
  void everyMethodAnswersEveryCallerAsTheTableSays() {
    List<String> checked = new ArrayList<>();
    for (ServiceDescriptor service : SERVED) {
      for (MethodDescriptor<?, ?> m : service.getMethods()) {
        String method = m.getFullMethodName();
        String rule = TABLE.get(method);
        if (rule == null) {
          fail(method + " has no rule in this table: give it its roles here and in AccessPolicy");
        }
        for (String caller : List.of("none", "unknown", "trainer", "worker", "admin")) {
          Status answer = call(method, switch (caller) {
            case "none" -> null;
            case "unknown" -> UNKNOWN;
            case "trainer" -> TRAINER;
            case "worker" -> WORKER;
            default -> ADMIN;
          });
          String cell = method + " as " + caller;
          assertThat(answer.getDescription()).as(cell).doesNotContain(TRAINER, WORKER, ADMIN, UNKNOWN);
          if (rule.equals("open") || (!caller.equals("none") && !caller.equals("unknown") && rule.contains(caller))) {
            assertThat(answer.getCode()).as(cell).isEqualTo(Status.Code.ABORTED);
            assertThat(answer.getDescription()).as(cell).isEqualTo("reached the service");
          } else if (caller.equals("none")) {
            assertThat(answer.getCode()).as(cell).isEqualTo(Status.Code.UNAUTHENTICATED);
            assertThat(answer.getDescription()).as(cell).isEqualTo(method + ": no bearer token; send the call metadata"
                + " 'authorization: Bearer <token>' (--token-file FILE or SHARDOPT_TOKEN)");
          } else if (caller.equals("unknown")) {
            assertThat(answer.getCode()).as(cell).isEqualTo(Status.Code.UNAUTHENTICATED);
            assertThat(answer.getDescription()).as(cell).isEqualTo(method + ": unknown bearer token");
          } else {
            assertThat(answer.getCode()).as(cell).isEqualTo(Status.Code.PERMISSION_DENIED);
            assertThat(answer.getDescription()).as(cell)
                .isEqualTo(method + " needs role " + rule + "; the token's role is " + caller);
          }
        }
        checked.add(method);
      }
    }
    assertThat(checked).containsExactlyInAnyOrderElementsOf(TABLE.keySet());
  }

  @Test
  void theShardoptPolicyCoversEveryServedMethod() {
    List<io.grpc.ServerServiceDefinition> defs = new ArrayList<>();
    for (ServiceDescriptor s : SERVED) {
      io.grpc.ServerServiceDefinition.Builder b = io.grpc.ServerServiceDefinition.builder(s);
      for (MethodDescriptor<?, ?> m : s.getMethods()) {
        addReached(b, m);
      }
      defs.add(b.build());
    }
    assertThat(AccessPolicy.shardopt().uncovered(defs)).isEmpty();
  }

  @Test
  void aServerWithAMethodWithoutARuleDoesNotStart() {
    AuthTokens tokens = AuthTokens.parse("test", List.of("admin " + ADMIN));
    try (GrpcSecurity s = GrpcSecurity.builder().authTokens(tokens).build()) {
      assertThatThrownBy(() -> s.start(s.server("127.0.0.1", 0).addService(Echo.service())))
          .isInstanceOf(IllegalStateException.class)
          .hasMessage("these RPCs have no access rule (AccessPolicy): [shardopt.test.Echo/Echo]");
    }
  }

  @Test
  void aMalformedAuthorizationIsUnauthenticated() {
    Metadata headers = new Metadata();
    headers.put(BearerToken.AUTHORIZATION, "Basic " + ADMIN);
    Status s = call("shardopt.v1.Coordinator/GetStatus", headers);
    assertThat(s.getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
    assertThat(s.getDescription()).isEqualTo("shardopt.v1.Coordinator/GetStatus: the authorization metadata must be"
        + " 'Bearer <token>'");
  }

  private static <Q, A> void addReached(io.grpc.ServerServiceDefinition.Builder b, MethodDescriptor<Q, A> m) {
    b.addMethod(m, (call, headers) -> {
      call.close(Status.ABORTED, new Metadata());
      return new ServerCall.Listener<>() {};
    });
  }

  private Status call(String method, String token) {
    Metadata headers = new Metadata();
    if (token != null) {
      headers.put(BearerToken.AUTHORIZATION, "Bearer " + token);
    }
    return call(method, headers);
  }

  private Status call(String method, Metadata headers) {
    try {
      io.grpc.Channel withHeaders = io.grpc.ClientInterceptors.intercept(channel, MetadataUtils.newAttachHeadersInterceptor(headers));
      ClientCalls.blockingUnaryCall(withHeaders, Echo.method(method), CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS),
          new byte[0]);
      return Status.OK;
    } catch (StatusRuntimeException e) {
      return e.getStatus();
    }
  }

  /** Answers every method ABORTED "reached the service": a call the interceptor let through. */
  private static final class ReachedRegistry extends io.grpc.HandlerRegistry {
    @Override
    public ServerMethodDefinition<?, ?> lookupMethod(String methodName, String authority) {
      ServerCallHandler<byte[], byte[]> handler = (call, headers) -> {
        call.close(Status.ABORTED.withDescription("reached the service"), new Metadata());
        return new ServerCall.Listener<>() {};
      };
      return ServerMethodDefinition.create(Echo.method(methodName), handler);
    }
  }
}
