package dev.shardopt.rpc.security;

import dev.shardopt.v1.CoordinatorGrpc;
import dev.shardopt.v1.WorkerGrpc;
import io.grpc.MethodDescriptor;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Which role may call which RPC. {@code admin} may call every RPC that has a rule; a method without a
 * rule is refused to everyone (and a server with auth on refuses to start with one: {@link #uncovered}).
 * The gRPC health service is open to all, so that orchestrators can probe it without a token.
 */
public final class AccessPolicy {
  /** Services every caller may use without a token. */
  static final Set<String> OPEN_SERVICES = Set.of("grpc.health.v1.Health");

  /** A method's rule: open to all, or the roles (admin always among them) that may call it. */
  public record Rule(boolean open, Set<Role> roles) {
    static Rule of(Role... roles) {
      EnumSet<Role> set = EnumSet.of(Role.ADMIN, roles);
      return new Rule(false, set);
    }

    public boolean allows(Role role) {
      return open || roles.contains(role);
    }

    /** "admin", "trainer or admin", "worker or admin". */
    public String describe() {
      return open ? "none" : roles.stream().sorted((a, b) -> a == Role.ADMIN ? 1 : b == Role.ADMIN ? -1 : a.compareTo(b))
          .map(Role::label).collect(Collectors.joining(" or "));
    }
  }

  private static final Rule OPEN = new Rule(true, EnumSet.noneOf(Role.class));

  private final Map<String, Rule> methods;

  private AccessPolicy(Map<String, Rule> methods) {
    this.methods = Map.copyOf(methods);
  }

  /** Shardopt's rules for the Coordinator and Worker services, reflection and health. */
  public static AccessPolicy shardopt() {
    Map<String, Rule> m = new LinkedHashMap<>();
    // Coordinator: the trainer's reads, the worker-facing calls, and the rest for admin only.
    put(m, CoordinatorGrpc.getGetModelMethod(), Rule.of(Role.TRAINER));
    put(m, CoordinatorGrpc.getGetShardMapMethod(), Rule.of(Role.TRAINER));
    put(m, CoordinatorGrpc.getParsePipelineMethod(), Rule.of(Role.TRAINER));
    put(m, CoordinatorGrpc.getRegisterWorkerMethod(), Rule.of(Role.WORKER));
    put(m, CoordinatorGrpc.getHeartbeatMethod(), Rule.of(Role.WORKER));
    put(m, CoordinatorGrpc.getGetPipelineScheduleMethod(), Rule.of(Role.WORKER));
    put(m, CoordinatorGrpc.getReportStepMethod(), Rule.of(Role.WORKER));
    put(m, CoordinatorGrpc.getReportLoadedMethod(), Rule.of(Role.WORKER));
    put(m, CoordinatorGrpc.getCreateModelMethod(), Rule.of());
    put(m, CoordinatorGrpc.getListModelsMethod(), Rule.of());
    put(m, CoordinatorGrpc.getDeleteModelMethod(), Rule.of());
    put(m, CoordinatorGrpc.getUpdatePipelineMethod(), Rule.of());
    put(m, CoordinatorGrpc.getGetStatusMethod(), Rule.of());
    put(m, CoordinatorGrpc.getGetMetricsMethod(), Rule.of());
    put(m, CoordinatorGrpc.getCheckpointModelMethod(), Rule.of());
    // Worker: the trainer's data plane; the coordinator's calls carry its worker token.
    put(m, WorkerGrpc.getPushMethod(), Rule.of(Role.TRAINER));
    put(m, WorkerGrpc.getPullMethod(), Rule.of(Role.TRAINER));
    // initial values from the model's creator; a new copy's state from the coordinator (re-replication)
    put(m, WorkerGrpc.getWriteParametersMethod(), Rule.of(Role.WORKER));
    put(m, WorkerGrpc.getCreateShardsMethod(), Rule.of(Role.WORKER));
    put(m, WorkerGrpc.getDropModelMethod(), Rule.of(Role.WORKER));
    put(m, WorkerGrpc.getGetProgressMethod(), Rule.of(Role.WORKER));
    put(m, WorkerGrpc.getSnapshotShardsMethod(), Rule.of(Role.WORKER));
    put(m, WorkerGrpc.getHoldPushesMethod(), Rule.of(Role.WORKER));
    put(m, WorkerGrpc.getPersistShardsMethod(), Rule.of(Role.WORKER));
    put(m, WorkerGrpc.getCopyShardsMethod(), Rule.of(Role.WORKER));
    put(m, WorkerGrpc.getCommitCopyMethod(), Rule.of(Role.WORKER));
    // Reflection describes the API to any caller that has a token (grpcurl with -H).
    m.put("grpc.reflection.v1.ServerReflection/ServerReflectionInfo", Rule.of(Role.TRAINER, Role.WORKER));
    m.put("grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", Rule.of(Role.TRAINER, Role.WORKER));
    return new AccessPolicy(m);
  }

  private static void put(Map<String, Rule> m, MethodDescriptor<?, ?> method, Rule rule) {
    m.put(method.getFullMethodName(), rule);
  }

  /** The rule of {@code fullMethodName} ({@code shardopt.v1.Coordinator/CreateModel}); empty when it has none. */
  public Optional<Rule> ruleOf(String fullMethodName) {
    String service = MethodDescriptor.extractFullServiceName(fullMethodName);
    if (service != null && OPEN_SERVICES.contains(service)) {
      return Optional.of(OPEN);
    }
    return Optional.ofNullable(methods.get(fullMethodName));
  }

  /** The methods of {@code services} that have no rule, in their order. */
  public List<String> uncovered(Collection<ServerServiceDefinition> services) {
    List<String> missing = new ArrayList<>();
    for (ServerServiceDefinition s : services) {
      for (ServerMethodDefinition<?, ?> m : s.getMethods()) {
        String name = m.getMethodDescriptor().getFullMethodName();
        if (ruleOf(name).isEmpty()) {
          missing.add(name);
        }
      }
    }
    return missing;
  }
}
