package dev.shardopt.rpc.security;

import java.util.Arrays;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * Who a bearer token belongs to. {@code admin} may call everything; {@code trainer} pushes, pulls and
 * reads a model and its shard map; {@code worker} is the cluster's own processes calling each other
 * (a worker calling the coordinator, the coordinator calling a worker). See docs/security.md.
 */
public enum Role {
  TRAINER,
  ADMIN,
  WORKER;

  /** The name in a tokens file and in messages: {@code trainer}, {@code admin}, {@code worker}. */
  public String label() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }

  /** The role named {@code label} (exactly, lower case). */
  public static Optional<Role> of(String label) {
    return Arrays.stream(values()).filter(r -> r.label().equals(label)).findFirst();
  }

  /** "trainer, admin, worker". */
  public static String labels() {
    return Arrays.stream(values()).map(Role::label).collect(Collectors.joining(", "));
  }
}
