package dev.shardopt.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * Hosts for a multi-host test on one machine: each host is a network namespace with one veth link
 * to a bridge that lives in a namespace of its own, so nothing is added to the machine's own
 * network. Addresses come from 198.18.0.0/24, in the benchmarking range (RFC 2544) that no real
 * network uses. {@link #close} deletes every namespace, which deletes their links.
 *
 * <p>Needs root and iproute2; where namespaces are refused, {@link #create} throws an
 * {@link IllegalStateException} that says which command failed and why, so a test fails loudly
 * rather than passing without having run.
 */
public final class NetworkNamespaces implements AutoCloseable {
  private static final String SUBNET_PREFIX = "198.18.0.";
  private final String tag;
  private final String bridgeNamespace;
  private final Map<String, String> addresses = new LinkedHashMap<>();
  private final Map<String, String> bridgePorts = new LinkedHashMap<>();
  private final List<String> namespaces = new ArrayList<>();

  private NetworkNamespaces(String tag) {
    this.tag = tag;
    this.bridgeNamespace = tag + "-net";
  }

  /**
   * Creates one namespace per host name, each with the address 198.18.0.(i + 1) in the order
   * given, all linked through one bridge.
   */
  public static NetworkNamespaces create(String... hosts) {
    if (hosts.length == 0 || hosts.length > 200) {
      throw new IllegalArgumentException("hosts: " + hosts.length + " given; 1 to 200 allowed");
    }
    NetworkNamespaces net = new NetworkNamespaces("so" + Long.toString(ThreadLocalRandom.current().nextLong(1L << 30, 1L << 35), 36));
    try {
      net.addNamespace(net.bridgeNamespace);
      net.ip("-n", net.bridgeNamespace, "link", "add", "br0", "type", "bridge");
      net.ip("-n", net.bridgeNamespace, "link", "set", "br0", "up");
      for (int i = 0; i < hosts.length; i++) {
        net.addHost(hosts[i], SUBNET_PREFIX + (i + 1), "p" + i + "-" + net.tag);
      }
      return net;
    } catch (RuntimeException e) {
      net.close();
      throw e;
    }
  }

  /** {@code port}: the bridge's end of the host's veth pair; interface names have at most 15 characters. */
  private void addHost(String host, String address, String port) {
    String ns = namespace(host);
    addNamespace(ns);
    bridgePorts.put(host, port);
    ip("link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", port, "netns", bridgeNamespace);
    ip("-n", bridgeNamespace, "link", "set", port, "master", "br0");
    ip("-n", bridgeNamespace, "link", "set", port, "up");
    ip("-n", ns, "addr", "add", address + "/24", "dev", "eth0");
    ip("-n", ns, "link", "set", "eth0", "up");
    ip("-n", ns, "link", "set", "lo", "up");
    addresses.put(host, address);
  }

  private void addNamespace(String ns) {
    ip("netns", "add", ns);
    namespaces.add(ns);
  }

  /** The host's address on the bridge, e.g. "198.18.0.1". */
  public String address(String host) {
    String a = addresses.get(host);
    if (a == null) {
      throw new IllegalArgumentException("host: '" + host + "' is not one of " + addresses.keySet());
    }
    return a;
  }

  /** The command prefix that runs a program inside the host's namespace. */
  public List<String> exec(String host) {
    address(host);
    return List.of("ip", "netns", "exec", namespace(host));
  }

  /** Takes the host's link to the bridge down (its packets are dropped, its connections stay open) or up again. */
  public void link(String host, boolean up) {
    address(host);
    ip("-n", bridgeNamespace, "link", "set", bridgePorts.get(host), up ? "up" : "down");
  }

  private String namespace(String host) {
    return tag + "-" + host;
  }

  private void ip(String... args) {
    List<String> cmd = new ArrayList<>();
    cmd.add("ip");
    cmd.addAll(List.of(args));
    try {
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      if (!p.waitFor(20, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IllegalStateException("network namespaces: `" + String.join(" ", cmd) + "` did not finish in 20 s");
      }
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
      if (p.exitValue() != 0) {
        throw new IllegalStateException("network namespaces refused: `" + String.join(" ", cmd) + "` exited "
            + p.exitValue() + ": " + out + " (this test needs root and iproute2's `ip netns`)");
      }
    } catch (IOException e) {
      throw new IllegalStateException("network namespaces: cannot run `" + String.join(" ", cmd) + "`: " + e.getMessage()
          + " (this test needs iproute2's `ip`)", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted during `" + String.join(" ", cmd) + "`", e);
    }
  }

  @Override
  public void close() {
    RuntimeException first = null;
    for (int i = namespaces.size() - 1; i >= 0; i--) {
      try {
        ip("netns", "del", namespaces.get(i));
      } catch (RuntimeException e) {
        if (first == null) {
          first = e;
        }
      }
    }
    namespaces.clear();
    if (first != null) {
      throw first;
    }
  }
}
